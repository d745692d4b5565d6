// Charging profiles: list, create (periods one per line, START=LIMIT[/PHASES]), delete.
// Chargers are given a profile on their station's page (or PATCH /api/chargers/{id}).

import * as api from "../api.js";
import { field, h, replace, select } from "../dom.js";
import { actionButton, formatPower, problemBox } from "../ui.js";

/** "07:00 10 kW · 22:00 20 kW": a profile's periods in one line. */
export function periodsText(profile) {
  return profile.periods.map((p) => {
    const limit = profile.unit === "W" ? formatPower(p.limit) : `${p.limit} A`;
    const phases = p.number_phases ? ` (${p.number_phases} ph)` : "";
    return `${p.start} ${limit}${phases}`;
  }).join(" · ");
}

/** Periods typed one per line as START=LIMIT[/PHASES]; the API locates what is wrong. */
function parsePeriods(text) {
  return text.split("\n").map((line) => line.trim()).filter(Boolean).map((line) => {
    const at = line.lastIndexOf("=");
    const start = at < 0 ? line : line.slice(0, at).trim();
    const [limit, phases] = (at < 0 ? "" : line.slice(at + 1)).split("/");
    const period = { start, limit: limit.trim() === "" ? null : Number(limit) };
    if (phases !== undefined && phases.trim() !== "") period.number_phases = Number(phases);
    return period;
  });
}

export function mountProfiles(main) {
  const list = h("div", { id: "profile-list" });
  const feedback = h("div", { "aria-live": "polite" });
  const controls = {
    id: h("input", { name: "id", placeholder: "day-night" }),
    name: h("input", { name: "name", required: true }),
    unit: select({ name: "unit" }, [["W", "W (watts)"], ["A", "A (amperes per phase)"]], "W"),
    recurrence: select({ name: "recurrence" }, [["daily", "daily"], ["weekly", "weekly"]], "daily"),
    periods: h("textarea", { name: "periods", rows: 4, placeholder: "07:00=10000\n22:00=20000" }),
  };
  const form = h("form", { class: "card", id: "profile-form", novalidate: true },
    h("h2", null, "New charging profile"),
    h("div", { class: "grid" },
      field("ID (optional)", controls.id), field("Name", controls.name),
      field("Unit", controls.unit), field("Recurrence", controls.recurrence),
      field("Periods", controls.periods,
        "One per line: START=LIMIT, e.g. 22:00=20000; weekly: Mon 07:00=16; /1 for one phase")),
    h("button", { type: "submit", class: "primary" }, "Create profile"), feedback);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      name: controls.name.value.trim(),
      unit: controls.unit.value,
      recurrence: controls.recurrence.value,
      periods: parsePeriods(controls.periods.value),
    };
    if (controls.id.value.trim()) body.id = controls.id.value.trim();
    try {
      const profile = await api.postJson("api/charging-profiles", body);
      replace(feedback, h("p", { class: "success", role: "status" }, `Created ${profile.name}.`));
      form.reset();
      await load();
    } catch (error) {
      replace(feedback, problemBox(error));
    }
  });

  async function load() {
    try {
      const answer = await api.getJson("api/charging-profiles");
      if (!answer.items.length) {
        replace(list, h("p", { class: "hint" }, "No charging profile yet."));
        return;
      }
      replace(list, h("table", { class: "list", id: "profile-table" },
        h("thead", null, h("tr", null, ["Name", "ID", "Unit", "Recurrence", "Periods", ""]
          .map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", null, answer.items.map((profile) => h("tr", { dataset: { profile: profile.id } },
          h("td", null, profile.name), h("td", null, h("code", null, profile.id)),
          h("td", null, profile.unit), h("td", null, profile.recurrence),
          h("td", { class: "periods" }, periodsText(profile)),
          h("td", null, actionButton("Delete", async () => {
            if (!confirm(`Delete the profile ${profile.name}?`)) return;
            try {
              await api.remove(`api/charging-profiles/${api.seg(profile.id)}`);
              replace(feedback, h("p", { class: "success", role: "status" }, `Deleted ${profile.name}.`));
              await load();
            } catch (error) {
              replace(feedback, problemBox(error));
            }
          }, { class: "quiet" })))))));
    } catch (error) {
      replace(list, problemBox(error));
    }
  }

  replace(main, h("h1", null, "Charging profiles"),
    h("p", { class: "hint" }, "A profile limits a charger's output on a fixed schedule, in its "
      + "area's time zone (20 kW at night, 10 kW by day). Give a charger its profile on its "
      + "station's page; it is sent to the station when assigned, changed, and on connection."),
    list, form);
  load();
  return { destroy() {} };
}
