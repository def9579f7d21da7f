/** docs/deploy.md holds the configuration reference generated from the option specs. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  BEGIN,
  COMMANDS,
  configReference,
  DOC,
  END,
  MACHINE_DEFAULTS,
  table,
  withReference,
} from "../../deploy/gen-config-reference.ts";

const doc = readFileSync(DOC, "utf8");
const reference = configReference();

describe("configuration reference", () => {
  it("docs/deploy.md holds the current one (else run: node deploy/gen-config-reference.ts --write)", () => {
    expect(doc.split(BEGIN)).toHaveLength(2);
    expect(doc.slice(doc.indexOf(BEGIN), doc.indexOf(END) + END.length)).toBe(reference);
  });

  /** Each command's table rows as trimmed cells: [option, variable, default, meaning]. */
  const tables = new Map(
    reference
      .split("#### ")
      .slice(1)
      .map((section) => {
        const command = /^`voice-edge (\S+)`/.exec(section)![1]!;
        const lines = section.split("\n").filter((l) => l.startsWith("|"));
        const cells = (l: string) =>
          l
            .slice(1, -1)
            .split(/(?<!\\)\|/)
            .map((c) => c.trim());
        return [command, { lines, rows: lines.slice(2).map(cells) }] as const;
      }),
  );
  const rows = [...tables.values()].flatMap((t) => t.rows);
  const row = (command: string, option: string) =>
    tables.get(command)?.rows.find((r) => r[0] === `\`--${option}\``);

  it("lists every option and its variable, once", () => {
    for (const { command, specs } of COMMANDS) {
      expect(reference).toContain(`#### \`voice-edge ${command}\``);
      for (const [option, spec] of Object.entries(specs)) {
        expect(row(command, option)?.[1], option).toBe(`\`${spec.env}\``);
        expect(row(command, option)?.[3], option).toBe(spec.description.replaceAll("|", "\\|"));
      }
    }
    expect(rows).toHaveLength(COMMANDS.reduce((n, c) => n + Object.keys(c.specs).length, 0));
    expect(rows.every((r) => r.length === 4)).toBe(true);
  });

  it("shows defaults, required options, and no machine-dependent values", () => {
    expect(row("relay", "listen")?.[2]).toBe("`0.0.0.0:3478`");
    expect(row("relay", "cluster")?.[2]).toBe("required");
    expect(row("transceiver", "drain-timeout")?.[2]).toBe("`3600`");
    expect(row("transceiver", "listen")?.[2]).toBe("`127.0.0.1:8801`");
    expect(row("transceiver", "token")?.[2]).toBe("unset");
    expect(row("transceiver", "workers")?.[2]).toBe("the number of CPUs");
    for (const [command, options] of Object.entries(MACHINE_DEFAULTS))
      for (const option of Object.keys(options))
        expect(
          COMMANDS.find((c) => c.command === command)?.specs[option],
          `${command} --${option}`,
        ).toBeDefined();
  });

  it("aligns the tables as the formatter does (so formatting never changes the generated text)", () => {
    expect(table(["a", "bb"], [["ccc", "d"]])).toEqual(["| a   | bb  |", "| --- | --- |", "| ccc | d   |"]);
    expect([...tables.keys()]).toEqual(COMMANDS.map((c) => c.command));
    for (const { lines } of tables.values())
      for (const l of lines) expect(l.length, l).toBe(lines[0]!.length);
  });

  it("replacing the section keeps the rest of the doc and notices a stale table", () => {
    const current = withReference(doc, reference);
    const stale = withReference(doc, reference.replace("`3600`", "`600`"));
    expect(stale).not.toBe(current);
    expect(withReference(stale, reference)).toBe(current);
    expect(current.slice(0, current.indexOf(BEGIN))).toBe(doc.slice(0, doc.indexOf(BEGIN)));
    expect(() => withReference("no markers", reference)).toThrow(/no .* section/);
  });
});
