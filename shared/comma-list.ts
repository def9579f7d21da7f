/** The items of a comma-separated option ("a, b,,c"): trimmed, empty ones left out. */
export function commaList(spec: string): string[] {
  return spec
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}
