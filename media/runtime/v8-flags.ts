/**
 * V8 flags a media process asks for, without overriding an operator's own:
 * a flag given on the command line or in NODE_OPTIONS (by name, any value)
 * wins over ours.
 */

const nameOf = (flag: string) => flag.split("=")[0]!.replaceAll("_", "-");

/** The flags of `wanted` that neither `execArgv` nor NODE_OPTIONS sets. */
export function missingFlags(
  wanted: readonly string[],
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string | undefined = process.env.NODE_OPTIONS,
): string[] {
  const given = new Set([...execArgv, ...(nodeOptions ?? "").split(/\s+/)].filter(Boolean).map(nameOf));
  return wanted.filter((f) => !given.has(nameOf(f)));
}
