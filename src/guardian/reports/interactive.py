"""The briefing's interactive map: ``briefing_map.html``, one file that works offline.

Leaflet (from the npm registry, installed at build time: ``npm ci`` at the repository root, see
``package.json``) is inlined into the page together with its CSS and images, and so is the data.
The map opens on a plain background — the month's events as faint points, the harm spots, the
top cells of the risk map and the live cocoons — so it needs no network at all. OpenStreetMap
tiles are an optional base layer for when the reader is online (tick it in the layer box, or open
the page with ``#tiles``); nothing is requested until then.

Where Leaflet is looked for, first found wins: ``$GUARDIAN_LEAFLET_DIR``,
``guardian/reports/vendor/leaflet`` (a packaged copy), ``<repository>/node_modules/leaflet/dist``.
Without it the page still opens and says how to install it (and shows the static spot map).
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
from pathlib import Path

MAP_FILE = "briefing_map.html"
TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"


def leaflet_dir() -> Path | None:
    """The directory holding ``leaflet.js`` and ``leaflet.css``, or ``None``."""
    here = Path(__file__).resolve()
    candidates = []
    if os.environ.get("GUARDIAN_LEAFLET_DIR"):
        candidates.append(Path(os.environ["GUARDIAN_LEAFLET_DIR"]))
    candidates += [
        here.parent / "vendor" / "leaflet",
        here.parents[3] / "node_modules" / "leaflet" / "dist",
    ]
    for d in candidates:
        if (d / "leaflet.js").is_file() and (d / "leaflet.css").is_file():
            return d
    return None


def _inline_css(d: Path) -> str:
    """leaflet.css with its ``url(images/...)`` references replaced by data URIs."""
    css = (d / "leaflet.css").read_text(encoding="utf-8")
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)  # comments (they hold bug-tracker links)

    def repl(m: re.Match) -> str:
        p = d / m.group(1)
        if not p.is_file():
            return "none"
        b64 = base64.b64encode(p.read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{b64})"

    return re.sub(r"url\((images/[A-Za-z0-9_.-]+\.png)\)", repl, css)


def _inline_js(d: Path) -> str:
    js = (d / "leaflet.js").read_text(encoding="utf-8")
    js = re.sub(r"//# sourceMappingURL=\S+\s*$", "", js)
    return js.replace("</script", "<\\/script")


def map_data(briefing: dict) -> dict:
    """The layers drawn on the map, taken from the briefing's sections."""
    meta, sec = briefing["meta"], briefing["sections"]
    spots = sec.get("harm_spots", {})
    risk = sec.get("risk", {})
    coc = sec.get("cocoons", {})
    layer = spots.get("map_layer") or {}
    return {
        "title": f"{meta['force']} — {meta['month']}",
        "month": meta["month"],
        "points": layer.get("points", []),
        "spots": layer.get("spots", []),
        "spots_note": spots.get("sentence", spots.get("reason", "")),
        "precision": spots.get("precision", ""),
        "risk": (risk.get("map_layer") or {}).get("cells", []),
        "risk_note": (
            f"Top {100 * (risk.get('map_layer') or {}).get('top_share', 0):g}% of the study area "
            f"for {risk.get('month')} by {risk.get('method')}: {risk.get('sentence', '')}"
            if risk.get("available")
            else f"Risk map not available: {risk.get('reason', '')}"
        ),
        "cocoons": (coc.get("map_layer") or {}).get("cocoons", []),
        "cocoons_note": (
            f"{coc.get('live_count', 0)} live cocoons at {str(coc.get('as_of', ''))[:10]} "
            "(circle: one radius around each cocoon's centre; click for its zone)"
            if coc.get("available")
            else f"Cocoons not available: {coc.get('reason', '')}"
        ),
        "tiles": TILE_URL,
        "version": meta.get("guardian_version", ""),
    }


_PAGE_CSS = """
html, body { height: 100%; margin: 0; font-family: "DejaVu Sans", Arial, sans-serif; color: #1f2933; }
body { display: flex; flex-direction: column; }
header { padding: 6px 12px; border-bottom: 3px solid #1d4ed8; font-size: 13px; }
header h1 { font-size: 16px; margin: 0 0 2px; }
header p { margin: 2px 0; color: #52606d; font-size: 11px; }
#map { flex: 1 1 auto; background: #eef1f4; }
.legend { background: #fff; padding: 6px 8px; font-size: 11px; line-height: 1.5; border-radius: 4px;
  box-shadow: 0 1px 4px rgba(0,0,0,.3); max-width: 300px; }
.legend i { display: inline-block; width: 11px; height: 11px; margin-right: 5px; vertical-align: -1px; }
.rank { background: transparent; border: 0; box-shadow: none; color: #7f1d1d; font-weight: bold; font-size: 11px; }
.rank::before { display: none; }
"""

_APP_JS = r"""
(function () {
  var D = JSON.parse(document.getElementById('briefing-data').textContent);
  var map = L.map('map', { preferCanvas: true, zoomSnap: 0.25 });
  var canvas = L.canvas({ padding: 0.3 });
  var plain = L.layerGroup();
  var tiles = L.tileLayer(D.tiles, { maxZoom: 19,
    attribution: '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors' });
  var events = L.layerGroup(), spots = L.layerGroup(), risk = L.layerGroup(), cocoons = L.layerGroup();
  D.points.forEach(function (p) {
    L.circleMarker([p[0], p[1]], { renderer: canvas, radius: Math.min(1.2 + Math.sqrt(p[2]), 6),
      stroke: false, fillColor: '#7b8794', fillOpacity: 0.3, interactive: false }).addTo(events);
  });
  D.risk.forEach(function (b) {
    // a 2-pixel outline keeps a 150 m cell visible at county scale
    L.rectangle(b, { renderer: canvas, color: '#d97706', weight: 2, opacity: 0.9,
      fillColor: '#f59e0b', fillOpacity: 0.6, interactive: false }).addTo(risk);
  });
  D.cocoons.forEach(function (c) {
    L.circle([c.lat, c.lon], { radius: c.radius_m, color: '#1d4ed8', weight: 1.2, fillOpacity: 0.06 })
      .bindPopup('<b>' + esc(c.ref) + '</b> — ' + c.members + ' burglaries, ' + c.overdue +
                 ' visits overdue; zone ' + c.zone_km2 + ' km² (the union of its burglaries\' ' +
                 c.radius_m + ' m discs; the circle is one radius around its centre)<br>' +
                 esc(c.why)).addTo(cocoons);
  });
  D.spots.forEach(function (s) {
    var b = L.latLngBounds(s.bounds);
    // a ring of fixed screen size marks the cell at any zoom; the cell itself is drawn to scale
    L.circleMarker(b.getCenter(), { radius: 8, color: '#b91c1c', weight: 2, fill: false,
      interactive: false }).addTo(spots);
    L.rectangle(s.bounds, { color: '#7f1d1d', weight: 2, fillColor: '#b91c1c', fillOpacity: 0.8 })
      .bindPopup('<b>Spot ' + s.rank + '</b> — ' + esc(s.district) + '<br>' + esc(s.streets) +
                 (s.label ? '<br>Label: ' + esc(s.label) : '') + '<br><small>' + esc(s.why) + '</small>')
      .bindTooltip(String(s.rank), { permanent: true, direction: 'right', className: 'rank', offset: [6, 0] })
      .addTo(spots);
  });
  function esc(t) { var d = document.createElement('div'); d.textContent = t == null ? '' : String(t); return d.innerHTML; }
  var online = /(^|[#&])tiles\b/.test(location.hash);
  (online ? tiles : plain).addTo(map);
  events.addTo(map); risk.addTo(map); cocoons.addTo(map); spots.addTo(map);
  L.control.layers({ 'Plain background (offline)': plain, 'OpenStreetMap tiles (online only)': tiles },
    { 'Events of the month (grey)': events, 'Risk map, top cells (amber)': risk,
      'Live cocoons (blue)': cocoons, 'Harm spots (red)': spots }, { collapsed: false }).addTo(map);
  L.control.scale({ imperial: false }).addTo(map);
  var legend = L.control({ position: 'bottomleft' });
  legend.onAdd = function () {
    var div = L.DomUtil.create('div', 'legend');
    div.innerHTML = '<i style="background:#b91c1c"></i>Harm spots: ' + esc(D.spots_note) + '<br>' +
      '<i style="background:#f59e0b"></i>' + esc(D.risk_note) + '<br>' +
      '<i style="border:1.5px solid #1d4ed8;border-radius:50%"></i>' + esc(D.cocoons_note) + '<br>' +
      '<span style="color:#52606d">Locations ' + esc(D.precision) + '. Guardian ' + esc(D.version) + '</span>';
    return div;
  };
  legend.addTo(map);
  var pts = D.points.map(function (p) { return [p[0], p[1]]; });
  D.spots.forEach(function (s) { pts.push(s.bounds[0]); pts.push(s.bounds[1]); });
  if (pts.length) { map.fitBounds(L.latLngBounds(pts), { padding: [10, 10] }); }
  else { map.setView([52.5, -1.5], 6); }
  document.body.setAttribute('data-ready', '1');
})();
"""


def render_map_html(briefing: dict) -> str:
    """The interactive map page (see the module notes)."""
    data = map_data(briefing)
    title = html.escape(f"{data['title']} — briefing map")
    payload = json.dumps(data, ensure_ascii=False, allow_nan=False).replace("</", "<\\/")
    head = (
        f"<header><h1>{title}</h1><p>Plain background: works offline. For street tiles when "
        "online, tick “OpenStreetMap tiles” in the layer box (or open this page with #tiles). "
        "Click a spot or cocoon for why it is there.</p></header>"
    )
    d = leaflet_dir()
    if d is None:
        img = (briefing["sections"].get("harm_spots") or {}).get("chart", "")
        body = (
            head
            + "<p style='padding:12px'>The interactive map needs Leaflet, installed from the npm "
            "registry at build time: run <code>npm ci</code> in the Guardian repository (or set "
            "GUARDIAN_LEAFLET_DIR to a folder holding leaflet.js and leaflet.css) and write the "
            "briefing again. The static spot map follows.</p>"
            + (f"<img style='max-width:100%' alt='Harm spots' src='{img}'>" if img else "")
        )
        return (
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>"
            f"{title}</title><link rel='icon' href='data:,'><style>{_PAGE_CSS}</style></head>"
            f"<body>{body}</body></html>"
        )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{title}</title><link rel='icon' href='data:,'>"
        f"<style>{_inline_css(d)}</style><style>{_PAGE_CSS}</style></head><body>{head}"
        "<div id='map'></div>"
        f"<script type='application/json' id='briefing-data'>{payload}</script>"
        f"<script>{_inline_js(d)}</script><script>{_APP_JS}</script></body></html>"
    )


def write_briefing_map(briefing: dict, path: Path) -> Path:
    """Write :func:`render_map_html` to ``path``."""
    path = Path(path)
    path.write_text(render_map_html(briefing), encoding="utf-8")
    return path
