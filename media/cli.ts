/**
 * `voice-edge <command>`: one binary for every media-side role. Each command
 * lives with its component and is loaded only when asked for.
 */
const commands: Record<
  string,
  { about: string; load: () => Promise<{ main(argv: string[]): Promise<void> }> }
> = {
  relay: {
    about: "stateless UDP forwarder (cluster relay or Global Relay ingress)",
    load: () => import("./relay/main.ts"),
  },
  transceiver: {
    about: "WebRTC session owner: werift behind one UDP socket per worker",
    load: () => import("./transceiver/main.ts"),
  },
  stack: {
    about: "the whole stack on one machine (what `npm start` runs)",
    load: () => import("./stack/main.ts"),
  },
  backend: {
    about: "demo voice agent backend (server VAD, parrot, barge-in) for the transceiver bridge",
    load: () => import("./backend/main.ts"),
  },
  impair: {
    about: "userspace UDP impairer (loss, delay, jitter, blackouts, NAT rebinding) in front of an ingress",
    load: () => import("./impair/main.ts"),
  },
  hint: {
    about: "mint or decode a routing hint (server ICE ufrag)",
    load: () => import("./relay/hint-cli.ts"),
  },
};

const usage = () =>
  `usage: voice-edge <command> [options]\n\ncommands:\n${Object.entries(commands)
    .map(([name, c]) => `  ${name.padEnd(12)} ${c.about}`)
    .join("\n")}\n\nRun "voice-edge <command> --help" for a command's options.`;

const [name, ...rest] = process.argv.slice(2);
if (!name || name === "--help" || name === "-h" || name === "help") {
  console.log(usage());
  process.exit(name ? 0 : 2);
}
const command = commands[name];
if (!command) {
  console.error(`voice-edge: unknown command "${name}"\n\n${usage()}`);
  process.exit(2);
}
try {
  await (await command.load()).main(rest);
} catch (err) {
  // Configuration and start-up errors: one clear line, no stack trace for the operator.
  console.error(`voice-edge ${name}: ${err instanceof Error ? err.message : String(err)}`);
  if (process.env.VOICE_EDGE_DEBUG) console.error(err);
  process.exit(1);
}
