namespace Appliance.Forwarder.Operations;

/// <summary>
/// The technician's status page: one self-contained HTML document (inline CSS and JS, no external assets) that
/// fetches <c>status.json</c> every few seconds and renders it with textContent only. Ages are computed from the
/// snapshot's own <c>takenAt</c>, so a wrong clock on the phone does not change them.
/// </summary>
internal static class StatusPage
{
    /// <summary>The page with the refresh interval filled in.</summary>
    public static string Render(int refreshSeconds) => Template.Replace("__REFRESH__", refreshSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);

    private const string Template = """
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Appliance status</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 0; padding: 1rem; background: #f4f4f4; color: #111; max-width: 48rem; }
  h1 { font-size: 1.3rem; margin: 0 0 .25rem; }
  .sub { color: #555; font-size: .9rem; margin-bottom: 1rem; }
  .card { background: #fff; border-radius: .5rem; padding: .8rem 1rem; margin-bottom: .8rem; box-shadow: 0 1px 2px rgba(0,0,0,.15); }
  .badge { display: inline-block; font-weight: 700; font-size: 1.4rem; padding: .2rem .7rem; border-radius: .4rem; color: #fff; background: #777; }
  .online { background: #1b7f3a; } .degraded { background: #b86e00; } .offline { background: #b3261e; } .unknown { background: #777; }
  .bad { color: #b3261e; font-weight: 700; } .ok { color: #1b7f3a; font-weight: 700; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; margin: .6rem 0 0; }
  dt { color: #555; } dd { margin: 0; }
  table { width: 100%; border-collapse: collapse; font-size: .95rem; }
  th, td { text-align: left; padding: .35rem .3rem; border-bottom: 1px solid #ddd; vertical-align: top; }
  .bar { background: #e3e3e3; border-radius: .3rem; height: .6rem; width: 100%; min-width: 4rem; margin-top: .2rem; }
  .bar > div { background: #2a62c9; height: 100%; border-radius: .3rem; }
  #error { display: none; background: #b3261e; color: #fff; padding: .6rem 1rem; border-radius: .4rem; margin-bottom: .8rem; }
  footer { color: #666; font-size: .8rem; }
</style>
</head>
<body>
<div id="error" role="alert"></div>
<h1>Site <span id="site">…</span></h1>
<div class="sub">Forwarder <span id="version">…</span> · central: <span id="flavour">…</span></div>
<div class="card">
  <div>Connection to central: <span id="connectivity" class="badge unknown">…</span></div>
  <dl>
    <dt>Since</dt><dd id="connectivity-since">…</dd>
    <dt>Last successful sync</dt><dd id="last-sync">…</dd>
    <dt>Local Kafka broker</dt><dd id="edge">…</dd>
    <dt>Buffer</dt><dd id="buffer">…</dd>
    <dt>Records dropped</dt><dd id="drops-total">…</dd>
  </dl>
</div>
<div class="card">
  <table>
    <thead><tr><th>Lane</th><th>Fill</th><th>Waiting</th><th>Oldest unsent</th><th>Dropped</th></tr></thead>
    <tbody id="lanes"></tbody>
  </table>
</div>
<footer>Updated <span id="updated">never</span> · refreshes every __REFRESH__ s · read-only</footer>
<script>
"use strict";
const refreshMs = __REFRESH__ * 1000;
function fmtBytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + " " + units[i];
}
function fmtAge(s) {
  s = Math.max(0, Math.floor(s));
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min";
  if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
}
function fmtCount(n) { return n.toLocaleString("en-US"); }
function secondsBetween(later, earlier) { return (Date.parse(later) - Date.parse(earlier)) / 1000; }
function set(id, text) { document.getElementById(id).textContent = text; }
function cell(tr, cls, text) { const td = document.createElement("td"); td.className = cls; td.textContent = text; tr.appendChild(td); return td; }
function render(s) {
  set("site", s.siteId); set("version", s.version); set("flavour", s.brokerFlavour);
  const c = document.getElementById("connectivity");
  c.textContent = s.connectivity.toUpperCase();
  c.className = "badge " + s.connectivity.toLowerCase();
  set("connectivity-since", s.connectivitySince ? fmtAge(secondsBetween(s.takenAt, s.connectivitySince)) + " ago" : "since start");
  set("last-sync", s.lastSuccessfulDelivery ? fmtAge(secondsBetween(s.takenAt, s.lastSuccessfulDelivery)) + " ago" : "none since start");
  const edge = document.getElementById("edge");
  edge.textContent = s.edgeReachable ? "reachable" : "UNREACHABLE";
  edge.className = s.edgeReachable ? "ok" : "bad";
  const b = document.getElementById("buffer");
  b.textContent = s.buffer.faulted ? "FAULTED: " + (s.buffer.faultReason || "unknown") :
    fmtBytes(s.buffer.totalBufferedBytes) + " of " + fmtBytes(s.buffer.totalBudgetBytes) + " used";
  b.className = s.buffer.faulted ? "bad" : "";
  let drops = 0;
  const body = document.getElementById("lanes");
  body.replaceChildren();
  for (const l of s.lanes) {
    const laneDrops = Object.values(l.droppedRecordsTotal).reduce((a, v) => a + v, 0);
    drops += laneDrops;
    const tr = document.createElement("tr");
    tr.dataset.lane = l.name;
    cell(tr, "name", l.name + (l.paused ? " (paused)" : ""));
    const pct = l.quotaBytes > 0 ? Math.min(100, Math.round(100 * l.bufferedBytes / l.quotaBytes)) : 0;
    const fill = cell(tr, "fill", pct + "%");
    const bar = document.createElement("div"); bar.className = "bar";
    const inner = document.createElement("div"); inner.style.width = pct + "%"; bar.appendChild(inner); fill.appendChild(bar);
    cell(tr, "buffered", fmtBytes(l.bufferedBytes) + " · " + fmtCount(l.bufferedRecords) + " records");
    cell(tr, "oldest", l.oldestUnsentAt ? fmtAge(secondsBetween(s.takenAt, l.oldestUnsentAt)) : "nothing waiting");
    const d = cell(tr, "drops", fmtCount(laneDrops));
    if (laneDrops > 0) d.className += " bad";
    body.appendChild(tr);
  }
  const dt = document.getElementById("drops-total");
  dt.textContent = drops > 0 ? fmtCount(drops) + " (see runbook: drops reported)" : "none";
  dt.className = drops > 0 ? "bad" : "ok";
  set("updated", new Date().toLocaleTimeString("en-GB"));
  document.body.dataset.renderedAt = s.takenAt;
}
async function refresh() {
  const err = document.getElementById("error");
  try {
    const r = await fetch("status.json", { cache: "no-store" });
    if (!r.ok) throw new Error("HTTP " + r.status);
    render(await r.json());
    err.style.display = "none";
  } catch (e) {
    err.textContent = "Cannot read the forwarder status (" + e.message + "). Values below may be stale.";
    err.style.display = "block";
  } finally {
    setTimeout(refresh, refreshMs);
  }
}
refresh();
</script>
</body>
</html>
""";
}
