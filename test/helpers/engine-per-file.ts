import { startEmbeddedEngine, type EmbeddedEngine } from '../../src/db/embedded-engine';

/**
 * Gives every test file a fresh embedded engine (it starts in milliseconds): the engine slows
 * down as the data it holds grows, so files late in a run would otherwise pay for earlier ones.
 * Closing a driver client after its engine has stopped is immediate, so the order of this
 * afterAll and a file's own does not matter. With MONGODB_URI set, every file uses that server.
 */
let engine: EmbeddedEngine | undefined;

beforeAll(async () => {
  if (process.env.MONGODB_URI) {
    return;
  }
  engine = await startEmbeddedEngine();
  process.env.TEST_MONGODB_URI = engine.uri;
});

afterAll(async () => {
  await engine?.stop();
  engine = undefined;
});
