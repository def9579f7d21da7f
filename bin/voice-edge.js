#!/usr/bin/env node
// Entry shim: the CLI is TypeScript run by Node 24's built-in type stripping.
const major = Number(process.versions.node.split(".")[0]);
if (major < 24) {
  console.error(
    `voice-edge needs Node 24 or newer (this is ${process.version}). ` +
      "Run it through npm scripts or npx, which use the pinned Node from node_modules/.bin.",
  );
  process.exit(1);
}
await import("../media/cli.ts");
