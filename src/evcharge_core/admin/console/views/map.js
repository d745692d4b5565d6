// The map: areas and chargers drawn from GET /api/map/chargers on an SVG, with an
// equirectangular projection fitted to the areas (no tile service: the console works
// without the internet). Chargers sit on a ring around their area's location, coloured by
// status; a minimum-power filter, a driver's-eye view, and a point to measure distances
// from (click the map). The data is fetched again every MAP_POLL_MS.

import * as api from "../api.js";
import { field, h, replace, s } from "../dom.js";
import {
  definitions, formatDistance, formatPower, poll, problemBox, statusBadge, statusClass,
} from "../ui.js";

export const MAP_POLL_MS = 10000;

const WIDTH = 960;
const HEIGHT = 560;
const PAD = 60;
const LEGEND_WIDTH = 170; // kept free on the right for the legend
const MIN_SPAN_DEG = 0.004; // about 450 m: a single site still gets some room around it
const METRES_PER_DEGREE = 111_195; // of latitude, on the mean Earth radius

/** An equirectangular projection fitted to `points` ([lon, lat]) in the drawing. */
export function fit(points) {
  const lats = points.map((p) => p[1]);
  const lons = points.map((p) => p[0]);
  const lat0 = points.length ? (Math.min(...lats) + Math.max(...lats)) / 2 : 0;
  const k = Math.cos((lat0 * Math.PI) / 180);
  let [minX, maxX] = points.length ? [Math.min(...lons) * k, Math.max(...lons) * k] : [-1, 1];
  let [minY, maxY] = points.length ? [-Math.max(...lats), -Math.min(...lats)] : [-1, 1];
  const grow = (lo, hi) => {
    const middle = (lo + hi) / 2;
    const half = Math.max(hi - lo, MIN_SPAN_DEG) / 2;
    return [middle - half, middle + half];
  };
  [minX, maxX] = grow(minX, maxX);
  [minY, maxY] = grow(minY, maxY);
  const usable = WIDTH - 2 * PAD - LEGEND_WIDTH;
  const scale = Math.min(usable / (maxX - minX), (HEIGHT - 2 * PAD) / (maxY - minY));
  const offX = PAD + (usable - (maxX - minX) * scale) / 2 - minX * scale;
  const offY = (HEIGHT - (maxY - minY) * scale) / 2 - minY * scale;
  return {
    project: ([lon, lat]) => [lon * k * scale + offX, -lat * scale + offY],
    invert: ([x, y]) => [(x - offX) / scale / k, -(y - offY) / scale],
    metresPerUnit: METRES_PER_DEGREE / scale,
  };
}

/** The radius of the ring of `count` chargers around their area's location. */
function ringRadius(count) {
  return Math.max(18, count * 6);
}

function niceLength(metres) {
  const power = 10 ** Math.floor(Math.log10(metres));
  const step = [5, 2, 1].find((n) => n * power <= metres) || 1;
  return step * power;
}

function scaleBar(projection) {
  const metres = niceLength(140 * projection.metresPerUnit);
  const length = metres / projection.metresPerUnit;
  const x = 24;
  const y = HEIGHT - 26;
  return s("g", { class: "scale-bar" },
    s("path", { d: `M${x} ${y - 5}V${y}H${x + length}V${y - 5}` }),
    s("text", { x: x + length + 6, y }, formatDistance(metres)));
}

/** Lines of latitude and longitude at a round step, labelled in degrees. */
function graticule(projection) {
  const [west, north] = projection.invert([0, 0]);
  const [east, south] = projection.invert([WIDTH, HEIGHT]);
  const step = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 45]
    .find((candidate) => (east - west) / candidate <= 8) || 90;
  const digits = Math.max(0, -Math.floor(Math.log10(step)));
  const lines = [];
  for (let lon = Math.ceil(west / step) * step; lon <= east; lon += step) {
    const [x] = projection.project([lon, north]);
    lines.push(s("path", { d: `M${x} 0V${HEIGHT}` }),
      s("text", { x: x + 3, y: 14 }, `${lon.toFixed(digits)}°`));
  }
  for (let lat = Math.ceil(south / step) * step; lat <= north; lat += step) {
    const [, y] = projection.project([west, lat]);
    lines.push(s("path", { d: `M0 ${y}H${WIDTH}` }), s("text", { x: 4, y: y - 3 }, `${lat.toFixed(digits)}°`));
  }
  return s("g", { class: "graticule", "aria-hidden": "true" }, lines);
}

function legend() {
  const items = ["Available", "Charging", "Preparing", "Reserved", "Faulted", "Closed"];
  return s("g", { class: "legend", transform: `translate(${WIDTH - LEGEND_WIDTH + 12} 24)` },
    s("rect", { class: "legend-box", x: -10, y: -14, width: LEGEND_WIDTH - 14, height: (items.length + 1) * 18 + 10, rx: 6 }),
    items.map((status, i) => s("g", { transform: `translate(0 ${i * 18})` },
      s("circle", { r: 6, cx: 6, cy: 0, class: `dot ${statusClass(status)}` }),
      s("text", { x: 18, y: 4 }, status === "Preparing" ? "Occupied / finishing" : status === "Faulted" ? "Unavailable / faulted" : status))),
    s("g", { transform: `translate(0 ${items.length * 18})` },
      s("circle", { r: 6, cx: 6, cy: 0, class: "dot available offline" }),
      s("text", { x: 18, y: 4 }, "Station offline")));
}

export function mountMap(main, { params, setParams }) {
  const state = {
    min_kw: params.get("min_kw") || "",
    view: params.get("view") === "driver" ? "driver" : "operator",
    from: params.get("from") ? params.get("from").split(",").map(Number) : null, // [lat, lon]
    selected: params.get("charger") || "",
  };
  let data = null;
  let areas = [];

  const minPower = h("input", {
    type: "number", name: "min_kw", min: 0, step: "any", value: state.min_kw,
    placeholder: "any", list: "power-presets", id: "min-power",
  });
  const presets = h("datalist", { id: "power-presets" },
    ["3.7", "7.4", "11", "22", "50", "150"].map((v) => h("option", { value: v })));
  const driverView = h("input", { type: "checkbox", name: "driver_view", checked: state.view === "driver" });
  const fromText = h("span", { class: "hint", id: "distance-from" });
  const clearFrom = h("button", { type: "button", class: "quiet" }, "Clear point");
  const controls = h("form", { class: "toolbar", id: "map-controls" },
    field("Minimum power (kW)", minPower), presets,
    h("label", { class: "check" }, driverView, " As drivers see it"),
    h("span", { class: "from" }, fromText, clearFrom));
  controls.addEventListener("submit", (event) => event.preventDefault());

  const drawing = s("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: "map", id: "map", role: "img",
    "aria-label": "Map of the areas and their chargers",
  });
  const details = h("aside", { class: "card map-details", id: "map-details", "aria-live": "polite" });
  const listing = h("div", { id: "map-list" });
  const notes = h("div");

  replace(main, h("h1", null, "Map"), controls, notes,
    h("div", { class: "map-layout" }, h("div", { class: "map-frame" }, drawing), details),
    listing);

  function remember() {
    setParams({
      min_kw: state.min_kw, view: state.view === "driver" ? "driver" : "",
      from: state.from ? state.from.map((v) => v.toFixed(6)).join(",") : "",
      charger: state.selected,
    });
  }

  function query() {
    const watts = state.min_kw === "" ? "" : Math.round(Number(state.min_kw) * 1000);
    return {
      view: state.view, min_power_w: watts,
      lat: state.from ? state.from[0] : "", lon: state.from ? state.from[1] : "",
    };
  }

  let latest = 0;
  async function load() {
    const ticket = ++latest;
    try {
      const [collection, areaList] = await Promise.all([
        api.getJson("api/map/chargers", query()), api.getJson("api/areas")]);
      if (ticket !== latest) return;
      data = collection;
      areas = areaList.items;
      notes.replaceChildren();
      draw();
    } catch (error) {
      replace(notes, problemBox(error));
      throw error;
    }
  }

  function select(chargerId) {
    state.selected = chargerId;
    remember();
    draw();
  }

  function draw() {
    const features = data.features;
    const points = [...areas.map((a) => [a.longitude, a.latitude]),
      ...features.map((f) => f.geometry.coordinates)];
    if (state.from) points.push([state.from[1], state.from[0]]);
    const projection = fit(points);
    const byPlace = new Map();
    for (const feature of features) {
      const key = feature.geometry.coordinates.join(",");
      if (!byPlace.has(key)) byPlace.set(key, []);
      byPlace.get(key).push(feature);
    }
    const background = [s("rect", { class: "sea", width: WIDTH, height: HEIGHT }),
      graticule(projection)];
    const areaMarks = areas.map((area) => {
      const [x, y] = projection.project([area.longitude, area.latitude]);
      const key = [area.longitude, area.latitude].join(",");
      const count = (byPlace.get(key) || []).length;
      return s("g", { class: `area${count ? "" : " empty"}`, dataset: { area: area.id } },
        s("rect", { x: x - 4, y: y - 4, width: 8, height: 8 }),
        s("text", { x, y: y + (count ? ringRadius(count) + 24 : 18), "text-anchor": "middle" },
          area.name));
    });
    const markers = [];
    for (const group of byPlace.values()) {
      const [cx, cy] = projection.project(group[0].geometry.coordinates);
      const radius = ringRadius(group.length);
      group.forEach((feature, i) => {
        const p = feature.properties;
        const angle = -Math.PI / 2 + (2 * Math.PI * i) / group.length;
        const x = cx + radius * Math.cos(angle);
        const y = cy + radius * Math.sin(angle);
        const label = `${p.name} (${p.station_name}): ${p.status || "Unknown"}`
          + `${p.online ? "" : ", offline"}, up to ${formatPower(p.max_power_w)}`;
        const marker = s("g", {
          class: `marker${p.charger_id === state.selected ? " selected" : ""}`,
          tabindex: 0, role: "button", "aria-label": label,
          dataset: { charger: p.charger_id, station: p.station_id },
        },
        s("line", { x1: cx, y1: cy, x2: x, y2: y, class: "tether" }),
        s("circle", { cx: x, cy: y, r: 9, class: `dot ${statusClass(p.status)}${p.online ? "" : " offline"}` }),
        s("title", null, label));
        marker.addEventListener("click", (event) => {
          event.stopPropagation();
          select(p.charger_id);
        });
        marker.addEventListener("keydown", (event) => {
          if (event.key === "Enter" || event.key === " ") {
            event.preventDefault();
            select(p.charger_id);
          }
        });
        markers.push(marker);
      });
    }
    let cross = null;
    if (state.from) {
      const [x, y] = projection.project([state.from[1], state.from[0]]);
      cross = s("g", { class: "from-point" },
        s("path", { d: `M${x - 8} ${y}H${x + 8}M${x} ${y - 8}V${y + 8}` }),
        s("circle", { cx: x, cy: y, r: 4 }));
    }
    replace(drawing, background, areaMarks, markers, cross, scaleBar(projection), legend());
    drawing.onclick = (event) => {
      const point = drawing.createSVGPoint();
      point.x = event.clientX;
      point.y = event.clientY;
      const local = point.matrixTransform(drawing.getScreenCTM().inverse());
      const [lon, lat] = projection.invert([local.x, local.y]);
      state.from = [lat, lon];
      remember();
      load().catch(() => {});
    };
    replace(fromText, state.from
      ? `Distances from ${state.from[0].toFixed(5)}, ${state.from[1].toFixed(5)} (nearest first).`
      : "Click the map to measure distances from that point.");
    clearFrom.hidden = !state.from;
    drawList(features);
    drawDetails(features);
    if (data.unlocated) {
      replace(notes, h("p", { class: "warning" },
        `${data.unlocated} charger${data.unlocated === 1 ? " is" : "s are"} not on the map: `
        + "its station has no area. Give the station an area on its page."));
    }
  }

  function drawList(features) {
    if (!features.length) {
      replace(listing, h("p", { class: "hint", id: "map-empty" },
        "No charger matches: lower the minimum power, or give stations an area."));
      return;
    }
    replace(listing, h("table", { class: "list", id: "map-table" },
      h("thead", null, h("tr", null, ["Charger", "Station", "Area", "Status", "Power",
        state.from ? "Distance" : null].filter(Boolean).map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", null, features.map((f) => {
        const p = f.properties;
        return h("tr", {
          class: p.charger_id === state.selected ? "selected" : null,
          dataset: { charger: p.charger_id },
        },
        h("td", null, h("button", { type: "button", class: "link", onclick: () => select(p.charger_id) }, p.name)),
        h("td", null, h("a", { href: `#/stations/${api.seg(p.station_id)}` }, p.station_id)),
        h("td", null, p.area_name),
        h("td", null, statusBadge(p.status, p.online)),
        h("td", { class: "num" }, formatPower(p.max_power_w)),
        state.from ? h("td", { class: "num" }, formatDistance(p.distance_m)) : null);
      }))));
  }

  function drawDetails(features) {
    const feature = features.find((f) => f.properties.charger_id === state.selected);
    if (!feature) {
      replace(details, h("h2", null, "Charger"), h("p", { class: "hint" }, state.selected
        ? "The selected charger does not match the filters any more."
        : "Select a charger on the map or in the list."));
      return;
    }
    const p = feature.properties;
    replace(details,
      h("h2", null, p.name),
      definitions([
        ["Station", h("a", { href: `#/stations/${api.seg(p.station_id)}` },
          p.station_name === p.station_id ? p.station_id : `${p.station_name} (${p.station_id})`)],
        ["Location", [p.area_name, p.address].filter(Boolean).join(", ")],
        ["Status", [statusBadge(p.status, p.online), p.online ? "" : " (station offline)"]],
        ["Distance", state.from ? formatDistance(p.distance_m) : "click the map to measure"],
        ["Power", `up to ${formatPower(p.max_power_w)} ${p.current_type || ""}`],
        ["Code", h("code", null, p.charger_code)],
        ["Visible to drivers", p.visible ? "yes" : "no"],
      ]),
      h("h3", null, "Connectors"),
      h("ul", { class: "connectors" }, p.connectors.map((c) => h("li", null,
        statusBadge(c.status, p.online), " ",
        [`${c.ocpp_id}: ${c.name}`, c.standard, formatPower(c.max_power_w)].filter(Boolean)
          .join(", ")))));
  }

  let typing = null;
  minPower.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      const value = minPower.value.trim();
      state.min_kw = value !== "" && Number(value) >= 0 ? value : "";
      remember();
      load().catch(() => {});
    }, 300);
  });
  driverView.addEventListener("change", () => {
    state.view = driverView.checked ? "driver" : "operator";
    remember();
    load().catch(() => {});
  });
  clearFrom.addEventListener("click", () => {
    state.from = null;
    remember();
    load().catch(() => {});
  });

  load().catch(() => {});
  const stopPolling = poll(load, MAP_POLL_MS);
  return { destroy: () => { stopPolling(); clearTimeout(typing); } };
}
