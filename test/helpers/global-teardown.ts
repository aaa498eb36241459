import type { EmbeddedEngine } from '../../src/db/embedded-engine';

export default async function globalTeardown(): Promise<void> {
  const engine = (globalThis as { __ENGINE__?: EmbeddedEngine }).__ENGINE__;
  await engine?.stop();
}
