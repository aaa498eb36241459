/** Polls `check` until it holds or `timeoutMs` has passed; answers whether it held. */
export async function waitUntil(check: () => boolean, timeoutMs: number, pollMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) {
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  return check();
}
