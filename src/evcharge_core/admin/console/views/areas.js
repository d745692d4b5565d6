// Areas: the sites that place stations on the map. List, create, delete.

import * as api from "../api.js";
import { field, h, replace } from "../dom.js";
import { actionButton, formatPower, problemBox } from "../ui.js";

export function mountAreas(main) {
  const list = h("div", { id: "area-list" });
  const feedback = h("div", { "aria-live": "polite" });
  const input = (name, props = {}) => h("input", { name, ...props });
  const controls = {
    name: input("name", { required: true }),
    latitude: input("latitude", { type: "number", step: "any", min: -90, max: 90, required: true }),
    longitude: input("longitude", { type: "number", step: "any", min: -180, max: 180, required: true }),
    address: input("address"),
    output_limit_a: input("output_limit_a", { type: "number", min: 1, step: 1 }),
    output_limit_w: input("output_limit_w", { type: "number", min: 1, step: 1 }),
  };
  const form = h("form", { class: "card", id: "area-form", novalidate: true },
    h("h2", null, "New area"),
    h("div", { class: "grid" },
      field("Name", controls.name), field("Latitude", controls.latitude, "e.g. 59.9127"),
      field("Longitude", controls.longitude, "e.g. 10.7461"),
      field("Address (optional)", controls.address),
      field("Output limit, A (optional)", controls.output_limit_a),
      field("Output limit, W (optional)", controls.output_limit_w)),
    h("button", { type: "submit", class: "primary" }, "Create area"), feedback);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const number = (name) => (controls[name].value.trim() === "" ? null : Number(controls[name].value));
    const body = {
      name: controls.name.value.trim(),
      latitude: number("latitude"),
      longitude: number("longitude"),
      address: controls.address.value.trim() || null,
      output_limit_a: number("output_limit_a"),
      output_limit_w: number("output_limit_w"),
    };
    try {
      const area = await api.postJson("api/areas", body);
      replace(feedback, h("p", { class: "success", role: "status" }, `Created ${area.name}.`));
      form.reset();
      await load();
    } catch (error) {
      replace(feedback, problemBox(error));
    }
  });

  async function load() {
    try {
      const answer = await api.getJson("api/areas");
      if (!answer.items.length) {
        replace(list, h("p", { class: "hint" }, "No area yet."));
        return;
      }
      replace(list, h("table", { class: "list", id: "area-table" },
        h("thead", null, h("tr", null, ["Name", "Latitude", "Longitude", "Address",
          "Output limit", "Private group", ""].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", null, answer.items.map((area) => h("tr", { dataset: { area: area.id } },
          h("td", null, h("a", { href: `#/areas/${api.seg(area.id)}`, title: "Allocations" },
            area.name)), h("td", { class: "num" }, area.latitude.toFixed(5)),
          h("td", { class: "num" }, area.longitude.toFixed(5)), h("td", null, area.address ?? ""),
          h("td", null, [area.output_limit_a ? `${area.output_limit_a} A` : "",
            area.output_limit_w ? formatPower(area.output_limit_w) : ""].filter(Boolean).join(", ")),
          h("td", null, area.private_group.join(", ")),
          h("td", null, actionButton("Delete", async () => {
            if (!confirm(`Delete the area ${area.name}?`)) return;
            try {
              await api.remove(`api/areas/${api.seg(area.id)}`);
              replace(feedback, h("p", { class: "success", role: "status" }, `Deleted ${area.name}.`));
              await load();
            } catch (error) {
              replace(feedback, problemBox(error));
            }
          }, { class: "quiet" })))))));
    } catch (error) {
      replace(list, problemBox(error));
    }
  }

  replace(main, h("h1", null, "Areas"),
    h("p", { class: "hint" }, "An area is a site: its location places its stations' chargers "
      + "on the map. Give a station its area on the station's page. With an output limit, the "
      + "area's limit is shared among its charging connectors: open an area to see how."),
    list, form);
  load();
  return { destroy() {} };
}
