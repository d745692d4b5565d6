// An area's allocations: how its output limit is shared among the connectors charging now
// (GET /api/areas/{id}/allocations), refreshed every few seconds.

import * as api from "../api.js";
import { h, replace } from "../dom.js";
import { definitions, formatPower, formatTime, poll, problemBox } from "../ui.js";

const POLL_MS = 5000;

export function mountAllocations(main, _ctx, areaId) {
  const summary = h("div", { id: "allocation-summary" });
  const table = h("div", { id: "allocations" });

  async function load() {
    let view;
    try {
      view = await api.getJson(`api/areas/${api.seg(areaId)}/allocations`);
    } catch (error) {
      replace(table, problemBox(error));
      return;
    }
    if (!view.balanced) {
      replace(summary, h("p", { class: "hint" },
        "This area has no output limit, so its connectors are not balanced. Give it one on "
        + "the areas page (or PATCH /api/areas/{id})."));
      replace(table);
      return;
    }
    const limit = [view.limit.current_a !== null ? `${view.limit.current_a} A per phase` : null,
      view.limit.power_w !== null ? formatPower(view.limit.power_w) : null].filter(Boolean);
    const [l1, l2, l3] = view.phase_current_a;
    replace(summary, definitions([
      ["Output limit", limit.join(", ")],
      ["Load L1 / L2 / L3", `${l1} / ${l2} / ${l3} A`],
      ["Power", formatPower(view.power_w)],
      ["Paused connectors", String(view.paused)],
      ["Computed", view.computed_at ? formatTime(view.computed_at) : ""],
      ["Next profile change", view.next_change ? formatTime(view.next_change) : "none"],
      ["Source", view.live ? "the running balancer" : "computed from storage (nothing sent yet)"],
    ]));
    if (!view.allocations.length) {
      replace(table, h("p", { class: "hint" }, "No connector of this area is charging."));
      return;
    }
    replace(table, h("table", { class: "list", id: "allocation-table" },
      h("thead", null, h("tr", null, ["Station", "Connector", "Limit", "State", "Phases",
        "Current", "Power", "In force"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", null, view.allocations.map((a) => h("tr", { dataset: { connector: a.connector_id } },
        h("td", null, h("a", { href: `#/stations/${api.seg(a.station_id)}` }, a.station_id)),
        h("td", null, h("code", null, a.connector_id)),
        h("td", { class: "num limit" }, `${a.limit} ${a.unit}`),
        h("td", { class: "state" }, a.pinned ? `${a.state} (station did not take it)` : a.state),
        h("td", { class: "num" }, a.phases),
        h("td", { class: "num" }, `${a.current_a} A`),
        h("td", { class: "num" }, formatPower(a.power_w)),
        h("td", { class: "num" }, a.in_force === null ? "" : `${a.in_force} ${a.unit}`))))));
  }

  replace(main, h("h1", null, `Allocations: ${areaId}`),
    h("p", null, h("a", { href: "#/areas" }, "All areas")),
    summary, table,
    h("p", { class: "hint" }, `Refreshed every ${POLL_MS / 1000} s.`));
  load();
  const stop = poll(load, POLL_MS);
  return { destroy: stop };
}
