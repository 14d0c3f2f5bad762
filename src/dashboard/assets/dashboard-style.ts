/** dashboard.css, served from the dashboard's own route (no style attribute, no inline style). */
export const DASHBOARD_STYLE: string = `:root { --fg: #1f2937; --muted: #6b7280; --line: #e5e7eb; --bg: #f9fafb; --accent: #2563eb; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
.bar { display: flex; align-items: center; gap: 24px; padding: 8px 20px; background: #111827; color: #f9fafb; }
.bar .brand { color: #f9fafb; font-weight: 700; }
.bar nav { display: flex; gap: 4px; }
.bar nav a { color: #d1d5db; padding: 4px 10px; border-radius: 4px; }
.bar nav a.active { background: #374151; color: #fff; }
main { padding: 16px 20px 40px; max-width: 1400px; }
h1 { font-size: 20px; margin: 4px 0 12px; }
h2 { font-size: 16px; margin: 20px 0 8px; }
h3 { font-size: 13px; margin: 0 0 4px; }
.muted { color: var(--muted); }
.mono, pre, code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
table.grid { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
table.grid th, table.grid td { padding: 5px 8px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
table.grid th { background: #f3f4f6; font-weight: 600; font-size: 12px; text-transform: uppercase; letter-spacing: .03em; color: #4b5563; }
table.grid tr:hover td { background: #f9fafb; }
th.num, td.num, table.grid .num { text-align: right; font-variant-numeric: tabular-nums; }
td.actions { text-align: right; white-space: nowrap; }
.body-preview { max-width: 480px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
table.facts { border-collapse: collapse; background: #fff; border: 1px solid var(--line); min-width: 360px; }
table.facts th { text-align: left; padding: 4px 10px; color: var(--muted); font-weight: 500; width: 130px; }
table.facts td { padding: 4px 10px; }
.columns { display: flex; gap: 16px; flex-wrap: wrap; align-items: flex-start; }
pre { background: #fff; border: 1px solid var(--line); padding: 10px; overflow: auto; max-height: 420px; margin: 0; white-space: pre-wrap; word-break: break-word; }
.error-box { border-left: 3px solid #dc2626; background: #fef2f2; padding: 6px 10px; }
.error-box pre { background: #fff7f7; }
.error { color: #b91c1c; }
.state { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 12px; font-weight: 600; }
.state-ready { background: #dbeafe; color: #1e40af; }
.state-leased { background: #fef3c7; color: #92400e; }
.state-done { background: #dcfce7; color: #166534; }
.state-failed { background: #fee2e2; color: #991b1b; }
.state-cancelled { background: #e5e7eb; color: #374151; }
.state-waiting_children { background: #ede9fe; color: #5b21b6; }
.badge { display: inline-block; padding: 0 7px; border-radius: 4px; font-size: 11px; font-weight: 700; text-transform: uppercase; }
.badge.paused { background: #fde68a; color: #78350f; }
.badge.readonly { background: #374151; color: #e5e7eb; }
.flash { background: #ecfdf5; border: 1px solid #a7f3d0; color: #065f46; padding: 6px 10px; border-radius: 4px; }
form.inline { display: inline; margin: 0 0 0 4px; }
button { font: inherit; font-size: 12.5px; padding: 3px 10px; border: 1px solid #d1d5db; background: #fff; border-radius: 4px; cursor: pointer; }
button:hover { background: #f3f4f6; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.danger { background: #fff; border-color: #dc2626; color: #b91c1c; }
.toolbar { display: flex; gap: 8px; align-items: center; margin-bottom: 10px; flex-wrap: wrap; }
.toolbar form.inline { margin: 0; }
.tabs { display: flex; gap: 2px; margin: 8px 0; flex-wrap: wrap; }
.tab { padding: 3px 10px; border: 1px solid var(--line); background: #fff; border-radius: 4px; color: var(--fg); }
.tab.active { border-color: var(--accent); color: var(--accent); }
.search { display: flex; gap: 6px; margin: 8px 0; }
.search input[type=search] { flex: 1; max-width: 520px; font: inherit; padding: 3px 8px; border: 1px solid #d1d5db; border-radius: 4px; }
.next { display: inline-block; margin: 8px 0; }
.windows { font-weight: 400; font-size: 13px; margin-left: 12px; }
.windows a, .windows span { margin-right: 6px; }
.windows .active { font-weight: 700; }
.chart-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 12px; }
.chart-card { background: #fff; border: 1px solid var(--line); padding: 8px; }
.chart { min-height: 20px; }
.replica { margin-bottom: 16px; }
.confirm, .progress-box { background: #fff; border: 1px solid var(--line); padding: 12px 16px; max-width: 720px; }
progress { width: 100%; height: 14px; }
.note { font-size: 12px; }
`;
