// Import (a CSV file, or one station) and activation with the security code.

import * as api from "../api.js";
import { field, h, replace, select } from "../dom.js";
import { issueTable, problemBox } from "../ui.js";

const STANDARDS = [
  ["IEC_62196_T2", "Type 2 (IEC 62196-2)"], ["IEC_62196_T2_COMBO", "CCS2"],
  ["CHADEMO", "CHAdeMO"], ["IEC_62196_T1", "Type 1"], ["IEC_62196_T1_COMBO", "CCS1"],
  ["DOMESTIC_F", "Schuko (CEE 7/4)"],
];
const FORMATS = [["SOCKET", "Socket"], ["CABLE", "Cable"]];
const POWER_TYPES = [
  ["AC_3_PHASE", "Three-phase AC"], ["AC_1_PHASE", "Single-phase AC"], ["DC", "DC"],
];

function stationLinks(ids) {
  return ids.map((id, i) => [i ? ", " : "", h("a", { href: `#/stations/${api.seg(id)}` }, id)]);
}

function importResult(result) {
  const parts = [h("p", { class: "success", role: "status" },
    `Imported ${result.imported} station${result.imported === 1 ? "" : "s"}: `,
    stationLinks(result.station_ids), ".")];
  if (result.replaced.length) {
    parts.push(h("p", null, "Replaced (they were inactive): ", stationLinks(result.replaced), "."));
  }
  if (result.warnings.length) {
    parts.push(h("h3", null, `${result.warnings.length} warning${result.warnings.length === 1 ? "" : "s"}`),
      issueTable(result.warnings));
  }
  parts.push(h("p", { class: "hint" }, "Imported stations are inactive until activated below."));
  return parts;
}

function importErrors(error) {
  const problem = error.problem || {};
  if (!(error instanceof api.ApiError) || !Array.isArray(problem.errors)
      || problem.error_count === undefined) {
    return problemBox(error);
  }
  const shown = problem.errors.length;
  const total = problem.error_count;
  return h("div", { class: "problem", role: "alert", dataset: { status: String(error.status) } },
    h("strong", null, "Nothing was imported. "),
    total > shown
      ? `${total} errors; the first ${shown} are shown.`
      : `${total} error${total === 1 ? "" : "s"}:`,
    issueTable(problem.errors),
    problem.warnings && problem.warnings.length
      ? [h("h3", null, "Warnings"), issueTable(problem.warnings)] : null);
}

function csvSection() {
  const file = h("input", { type: "file", name: "file", accept: ".csv,text/csv", required: true });
  const result = h("div", { class: "result", id: "import-result" });
  const button = h("button", { type: "submit", class: "primary" }, "Import");
  const form = h("form", { class: "card", id: "import-form" },
    h("h2", null, "Import stations from a CSV file"),
    h("p", { class: "hint" },
      "UTF-8, values separated by ';', the header row first: Station ID; Security code; "
      + "Manufacturer; Article number; Wi-Fi supported; GSM supported; Connector type; "
      + "Format; Power type; Voltage; Amperage; Serial number. A file with any error "
      + "imports nothing; errors name their line and column."),
    field("CSV file", file), button, result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = file.files[0];
    if (!chosen) {
      replace(result, h("p", { class: "problem" }, "Choose a CSV file first."));
      return;
    }
    button.disabled = true;
    replace(result, h("p", { class: "hint" }, `Importing ${chosen.name}…`));
    try {
      const response = await api.send("POST", "api/stations/import",
        { body: chosen, contentType: "text/csv" });
      replace(result, importResult(await response.json()));
    } catch (error) {
      replace(result, importErrors(error));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

function singleSection() {
  const input = (name, props = {}) => h("input", { name, ...props });
  const controls = {
    station_id: input("station_id", { required: true, maxlength: 48 }),
    security_code: input("security_code", { required: true, autocomplete: "off" }),
    manufacturer: input("manufacturer", { required: true }),
    article_number: input("article_number"),
    serial_number: input("serial_number"),
    wifi: input("wifi", { type: "checkbox", checked: true }),
    gsm: input("gsm", { type: "checkbox" }),
    standard: select({ name: "standard" }, STANDARDS, "IEC_62196_T2"),
    format: select({ name: "format" }, FORMATS, "SOCKET"),
    power_type: select({ name: "power_type" }, POWER_TYPES, "AC_3_PHASE"),
    voltage: input("voltage", { type: "number", value: "230", min: 110, max: 1000 }),
    amperage: input("amperage", { type: "number", value: "16", min: 1, max: 500 }),
  };
  const result = h("div", { class: "result" });
  const form = h("form", { class: "card", id: "single-import-form", novalidate: true },
    h("h2", null, "Import one station"),
    h("div", { class: "grid" },
      field("Station ID", controls.station_id), field("Security code", controls.security_code),
      field("Manufacturer", controls.manufacturer),
      field("Article number (optional)", controls.article_number),
      field("Serial number (optional)", controls.serial_number),
      h("fieldset", { class: "checks" }, h("legend", null, "Connectivity"),
        h("label", null, controls.wifi, " Wi-Fi"), h("label", null, controls.gsm, " GSM")),
      field("Connector type", controls.standard), field("Format", controls.format),
      field("Power type", controls.power_type), field("Phase voltage (V)", controls.voltage),
      field("Amperage (A)", controls.amperage)),
    h("button", { type: "submit", class: "primary" }, "Import station"), result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = (name) => controls[name].value.trim();
    const number = (name) => (text(name) === "" ? null : Number(text(name)));
    const body = {
      station_id: text("station_id"),
      security_code: text("security_code"),
      manufacturer: text("manufacturer"),
      article_number: text("article_number") || null,
      serial_number: text("serial_number") || null,
      connectivity: { wifi: controls.wifi.checked, gsm: controls.gsm.checked },
      connector_specifications: [{
        standard: controls.standard.value, format: controls.format.value,
        power_type: controls.power_type.value, voltage: number("voltage"),
        amperage: number("amperage"),
      }],
    };
    try {
      replace(result, importResult(await api.postJson("api/stations/import-single", body)));
    } catch (error) {
      replace(result, importErrors(error));
    }
  });
  return form;
}

function activationSection(initialId) {
  const stationId = h("input", { name: "station_id", required: true, value: initialId });
  const code = h("input", { name: "security_code", required: true, autocomplete: "off" });
  const result = h("div", { class: "result", id: "activation-result" });
  const button = h("button", { type: "submit", class: "primary" }, "Activate");
  const form = h("form", { class: "card", id: "activation-form", novalidate: true },
    h("h2", null, "Activate a station"),
    h("p", { class: "hint" },
      "An imported station answers its BootNotification with Pending until it is activated "
      + "with the security code printed on it."),
    h("div", { class: "grid" }, field("Station ID", stationId), field("Security code", code)),
    button, result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const id = stationId.value.trim();
    if (!id || !code.value.trim()) {
      replace(result, h("p", { class: "problem", role: "alert" },
        "Enter both the station ID and its security code."));
      return;
    }
    button.disabled = true;
    try {
      const station = await api.postJson(`api/stations/${api.seg(id)}/activate`,
        { security_code: code.value.trim() });
      replace(result, h("p", { class: "success", role: "status" },
        `Activated ${station.id}. `,
        h("a", { href: `#/stations/${api.seg(station.id)}` }, "Open the station")));
      code.value = "";
    } catch (error) {
      replace(result, problemBox(error));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

export function mountImport(main, { params }) {
  replace(main, h("h1", null, "Import and activate"),
    csvSection(), activationSection(params.get("station") || ""), singleSection());
  return { destroy() {} };
}
