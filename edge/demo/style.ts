/** The demo page's stylesheet: one dark theme, system fonts, no external resources; phone-first grid. */
export const DEMO_CSS = `
:root {
  color-scheme: dark;
  --bg: #0b1020;
  --bg2: #111833;
  --card: rgba(255, 255, 255, 0.04);
  --line: rgba(255, 255, 255, 0.09);
  --text: #e7ebf7;
  --muted: #97a0bd;
  --accent: #6ee7b7;
  --accent2: #60a5fa;
  --warn: #fbbf24;
  --bad: #f87171;
  --radius: 16px;
  --mono: ui-monospace, "SFMono-Regular", "JetBrains Mono", Menlo, Consolas, monospace;
}
* { box-sizing: border-box; }
html, body { margin: 0; }
html { background: var(--bg2); }
body {
  min-height: 100vh;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--text);
  background:
    radial-gradient(1200px 600px at 10% -10%, rgba(96, 165, 250, 0.18), transparent 60%),
    radial-gradient(900px 500px at 110% 10%, rgba(110, 231, 183, 0.12), transparent 60%),
    linear-gradient(180deg, var(--bg), var(--bg2) 900px);
  background-repeat: no-repeat;
  background-color: var(--bg2);
}
main { max-width: 1080px; margin: 0 auto; padding: 20px 16px 40px; }
header { display: flex; align-items: center; justify-content: space-between; gap: 12px; flex-wrap: wrap; margin-bottom: 18px; }
.brand { display: flex; align-items: center; gap: 12px; }
.logo {
  flex: none; width: 38px; height: 38px; border-radius: 11px; display: grid; place-items: center;
  background: linear-gradient(135deg, var(--accent2), var(--accent));
  box-shadow: 0 6px 24px rgba(96, 165, 250, 0.35);
}
.logo svg { width: 22px; height: 22px; }
h1 { font-size: 20px; margin: 0; letter-spacing: 0.2px; }
.tagline { color: var(--muted); font-size: 13px; margin: 0; }
.badge {
  font-size: 12px; color: var(--muted); border: 1px solid var(--line); border-radius: 999px;
  padding: 4px 10px; white-space: nowrap;
}
.badge.dev { color: var(--warn); border-color: rgba(251, 191, 36, 0.35); }

.hero {
  display: grid; grid-template-columns: auto 1fr; gap: 20px; align-items: center;
  padding: 20px; border: 1px solid var(--line); border-radius: var(--radius); background: var(--card);
  backdrop-filter: blur(6px);
}
.call-btn {
  width: 96px; height: 96px; border-radius: 50%; border: 0; cursor: pointer; color: #04130d;
  background: radial-gradient(circle at 30% 30%, #a7f3d0, var(--accent));
  box-shadow: 0 10px 30px rgba(110, 231, 183, 0.35), inset 0 -4px 10px rgba(0, 0, 0, 0.15);
  display: grid; place-items: center; transition: transform 0.12s ease, box-shadow 0.2s ease, background 0.2s;
}
.call-btn:hover { transform: translateY(-1px) scale(1.02); }
.call-btn:active { transform: scale(0.97); }
.call-btn:disabled { cursor: progress; opacity: 0.8; }
.call-btn svg { width: 38px; height: 38px; }
.call-btn.hang { color: #fff; background: radial-gradient(circle at 30% 30%, #fca5a5, #ef4444); box-shadow: 0 10px 30px rgba(239, 68, 68, 0.35); }
.call-btn.hang svg { transform: rotate(135deg); }
.status { display: flex; flex-direction: column; gap: 8px; min-width: 0; }
.pill {
  align-self: flex-start; display: inline-flex; align-items: center; gap: 8px; font-weight: 600;
  padding: 6px 12px; border-radius: 999px; background: rgba(255, 255, 255, 0.06); border: 1px solid var(--line);
}
.pill::before { content: ""; width: 9px; height: 9px; border-radius: 50%; background: var(--muted); }
.pill[data-state="connecting"]::before { background: var(--accent2); animation: pulse 1s infinite; }
.pill[data-state="connected"] { color: var(--accent); border-color: rgba(110, 231, 183, 0.35); }
.pill[data-state="connected"]::before { background: var(--accent); box-shadow: 0 0 12px var(--accent); }
.pill[data-state="disconnected"] { color: var(--warn); }
.pill[data-state="disconnected"]::before { background: var(--warn); animation: pulse 1s infinite; }
.pill[data-state="failed"] { color: var(--bad); }
.pill[data-state="failed"]::before { background: var(--bad); }
@keyframes pulse { 50% { opacity: 0.3; } }
.hint { color: var(--muted); font-size: 13px; margin: 0; }
.key-row { display: flex; gap: 8px; flex-wrap: wrap; align-items: center; }
.key-row[hidden] { display: none; }
.key-row label { font-size: 13px; color: var(--muted); }
.key-row input {
  flex: 1 1 240px; min-width: 0; font: 14px var(--mono); color: var(--text); background: rgba(0, 0, 0, 0.25);
  border: 1px solid var(--line); border-radius: 10px; padding: 9px 12px; outline: none;
}
.key-row input:focus { border-color: var(--accent2); box-shadow: 0 0 0 3px rgba(96, 165, 250, 0.2); }
.error {
  color: #fecaca; background: rgba(248, 113, 113, 0.12); border: 1px solid rgba(248, 113, 113, 0.35);
  border-radius: 10px; padding: 8px 12px; margin: 0; font-size: 14px; overflow-wrap: anywhere;
}
.error[hidden] { display: none; }

.grid { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 14px; margin-top: 14px; }
.card { border: 1px solid var(--line); border-radius: var(--radius); background: var(--card); padding: 16px; min-width: 0; }
.card h2 {
  font-size: 12px; text-transform: uppercase; letter-spacing: 0.12em; color: var(--muted);
  margin: 0 0 12px; font-weight: 600;
}
dl { display: grid; grid-template-columns: auto 1fr; gap: 8px 14px; margin: 0; }
dt { color: var(--muted); font-size: 13px; }
dd { margin: 0; text-align: right; font: 600 14px var(--mono); overflow-wrap: anywhere; }
dd small { color: var(--muted); font-weight: 400; }
dd.failover { color: var(--warn); }
.big { display: grid; grid-template-columns: repeat(3, 1fr); gap: 10px; margin-bottom: 12px; }
.metric { background: rgba(0, 0, 0, 0.2); border-radius: 12px; padding: 10px; text-align: center; }
.metric b { display: block; font: 700 20px var(--mono); }
.metric span { color: var(--muted); font-size: 12px; }
.meter-row { margin-bottom: 14px; }
.meter-row:last-child { margin-bottom: 0; }
.meter-label { display: flex; justify-content: space-between; font-size: 13px; color: var(--muted); margin-bottom: 6px; }
.meter-label b { font: 600 13px var(--mono); color: var(--text); }
.meter { height: 14px; border-radius: 999px; background: rgba(0, 0, 0, 0.3); overflow: hidden; border: 1px solid var(--line); }
.meter i {
  display: block; height: 100%; width: 100%; clip-path: inset(0 100% 0 0);
  background: linear-gradient(90deg, var(--accent) 0%, var(--accent) 60%, var(--warn) 85%, var(--bad) 100%);
  transition: clip-path 60ms linear;
}
.meter.out i { background: linear-gradient(90deg, var(--accent2) 0%, var(--accent2) 60%, var(--warn) 85%, var(--bad) 100%); }
audio { display: none; }

.events { margin-top: 14px; }
.events-head { display: flex; align-items: center; justify-content: space-between; gap: 10px; margin-bottom: 10px; }
.events-head h2 { margin: 0; }
.counts { color: var(--muted); font-size: 13px; margin-left: auto; }
.counts b { color: var(--text); font-family: var(--mono); }
.link-btn { background: none; border: 1px solid var(--line); color: var(--muted); border-radius: 8px; padding: 4px 10px; cursor: pointer; font-size: 12px; }
.link-btn:hover { color: var(--text); }
#log {
  list-style: none; margin: 0; padding: 0; max-height: 340px; overflow: auto; font: 13px/1.5 var(--mono);
  border-radius: 10px; background: rgba(0, 0, 0, 0.25); border: 1px solid var(--line);
}
#log:empty::before { content: "Events from the oai-events data channel appear here."; display: block; padding: 14px; color: var(--muted); font-family: system-ui, sans-serif; }
#log li { display: grid; grid-template-columns: auto auto 1fr; gap: 10px; padding: 6px 12px; border-bottom: 1px solid rgba(255, 255, 255, 0.04); align-items: baseline; }
#log li:last-child { border-bottom: 0; }
#log time { color: var(--muted); font-size: 12px; }
#log .dir { width: 1.2em; text-align: center; }
#log .in .dir { color: var(--accent); }
#log .out .dir { color: var(--accent2); }
#log .sys { color: var(--muted); }
#log .err, #log .err .dir { color: var(--bad); }
#log details { min-width: 0; }
#log summary { cursor: pointer; overflow-wrap: anywhere; }
#log pre { margin: 6px 0 2px; white-space: pre-wrap; overflow-wrap: anywhere; color: #cbd5e1; font-size: 12px; }
footer { margin-top: 18px; color: var(--muted); font-size: 12px; text-align: center; }
footer code { font-family: var(--mono); }

@media (max-width: 860px) {
  .grid { grid-template-columns: 1fr 1fr; }
  .grid .card.audio { grid-column: 1 / -1; }
}
@media (max-width: 560px) {
  main { padding: 14px 12px 28px; }
  .hero { grid-template-columns: 1fr; justify-items: center; text-align: center; padding: 18px 14px; }
  .status { align-items: center; width: 100%; }
  .pill { align-self: center; }
  .grid { grid-template-columns: 1fr; }
  .big .metric b { font-size: 17px; }
  #log { max-height: 50vh; }
}
@media (prefers-reduced-motion: reduce) {
  * { animation: none !important; transition: none !important; }
}
`;
