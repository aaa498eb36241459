import { startEmbeddedEngine } from '../../src/db/embedded-engine';

/**
 * Starts one embedded engine for the whole run (unless MONGODB_URI points at a real MongoDB).
 * Every suite then uses its own database on it.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.MONGODB_URI) {
    process.env.TEST_MONGODB_URI = process.env.MONGODB_URI;
    return;
  }
  const engine = await startEmbeddedEngine();
  (globalThis as { __ENGINE__?: unknown }).__ENGINE__ = engine;
  process.env.TEST_MONGODB_URI = engine.uri;
}
