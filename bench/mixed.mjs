// The memory case's load: `amount` requests of a mixed workload (reads as the super administrator
// and as the member, a search, /auth/me, the CapabilityStatement, a read of a missing id, a request
// without a token), from autocannon in its own process (bench/mixed-load.mjs).
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { root } from './harness.mjs';

export function mixedLoad(input) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'bench/mixed-load.mjs'), JSON.stringify(input)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`mixed load exited with ${code}`))));
  });
}
