// Station details: its fields, connection, chargers and connectors with live statuses
// (fetched again every DETAIL_POLL_MS), live configuration read and write, the commands
// (trigger, reset, remote start and stop, disconnect) and the QR codes with their sheet.

import * as api from "../api.js";
import { field, h, replace, select } from "../dom.js";
import {
  actionButton, connectionBadge, definitions, download, formatPower, formatTime, poll,
  problemBox, statusBadge, toast,
} from "../ui.js";

export const DETAIL_POLL_MS = 3000;

const yesNo = (value) => (value ? "yes" : "no");

function stationFacts(station, areaName) {
  const connectivity = station.connectivity
    ? [station.connectivity.wifi ? "Wi-Fi" : null, station.connectivity.gsm ? "GSM" : null]
      .filter(Boolean).join(", ")
    : null;
  return definitions([
    ["Station ID", station.id],
    ["Name", station.name],
    ["Code", station.code],
    ["Area", areaName(station.area_id)],
    ["Visible to drivers", yesNo(station.visible)],
    ["Protocol", station.protocol || "not known yet (set at the first connection)"],
    ["Activation", station.activation.state
      + (station.activation.activated_at ? `, ${formatTime(station.activation.activated_at)}` : "")],
    ["Registration", station.registration_status],
    ["Security profile", String(station.security_profile)],
    ["Manufacturer", station.manufacturer],
    ["Article number", station.article_number],
    ["Serial number", station.serial_number],
    ["Connectivity", connectivity],
    ["Physical address", station.physical_address],
    ["WebSocket URL", h("code", { class: "wrap" }, station.websocket_url)],
  ]);
}

function reportedFacts(station) {
  const r = station.reported || {};
  return definitions([
    ["Vendor", r.vendor], ["Model", r.model], ["Serial number", r.serial_number],
    ["Firmware version", r.firmware_version], ["Modem ICCID", r.iccid], ["Modem IMSI", r.imsi],
    ["Meter", [r.meter_type, r.meter_serial_number].filter(Boolean).join(", ")],
  ]);
}

function connectionFacts(station) {
  const c = station.connection;
  const boot = station.boot_configuration;
  const flags = [
    ["trigger_boot_notification", "Trigger BootNotification"],
    ["trigger_status_notification", "Trigger StatusNotification"],
    ["trigger_heartbeat", "Trigger Heartbeat"],
    ["clear_charging_profiles", "Clear charging profiles"],
  ].filter(([key]) => boot[key]).map(([, text]) => text);
  return definitions([
    ["Connection", connectionBadge(c)],
    ["Connected since", formatTime(c.connected_since)],
    ["Last seen", formatTime(c.last_seen)],
    ["Subprotocol", c.subprotocol],
    ["Status", statusBadge(station.status, c.connected)],
    ["Operational status", station.operational_status],
    ["Boot configuration", flags.length ? flags.join(", ") : "nothing on connection"],
  ]);
}

function chargerTable(station) {
  if (!station.chargers.length) {
    return h("p", { class: "hint" },
      "No chargers yet: they are created when the station connects and reports its "
      + "connectors, or with POST /api/stations/{id}/chargers.");
  }
  const online = station.connection.connected;
  const rows = [];
  for (const charger of station.chargers) {
    rows.push(h("tr", { class: "charger", dataset: { charger: charger.id } },
      h("th", { scope: "rowgroup", colspan: 3 }, charger.name, " ",
        h("span", { class: "muted" }, `code ${charger.code}`,
          charger.evse_id !== null ? `, EVSE ${charger.evse_id}` : "", `, ${charger.current_type}`),
        charger.charging_profile_id
          ? h("span", { class: "charger-profile", dataset: { profile: charger.charging_profile_id } },
            ", profile ", h("a", { href: "#/profiles" }, charger.charging_profile_id))
          : null),
      h("td", null, ""),
      h("td", null, statusBadge(charger.status, online)),
      h("td", null, charger.operational_status || ""),
      h("td", null, "")));
    for (const connector of charger.connectors) {
      rows.push(h("tr", { class: "connector", dataset: { connector: String(connector.ocpp_id) } },
        h("td", { class: "num" }, connector.ocpp_id),
        h("td", null, connector.name, h("span", { class: "muted" }, ` (${connector.code})`)),
        h("td", null, [connector.standard, connector.format, connector.power_type]
          .filter(Boolean).join(", ")),
        h("td", { class: "num" }, formatPower(connector.max_power_w)),
        h("td", { class: "connector-status" }, statusBadge(connector.status, online),
          connector.error_code && connector.error_code !== "NoError"
            ? h("span", { class: "muted" }, ` ${connector.error_code}`) : null),
        h("td", null, connector.operational_status || ""),
        h("td", null, formatTime(connector.status_timestamp))));
    }
  }
  return h("table", { class: "list", id: "charger-table" },
    h("thead", null, h("tr", null,
      ["Connector", "Name", "Type", "Power", "Status", "Operational", "Status since"]
        .map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", null, rows));
}

export function mountStation(main, _ctx, stationId) {
  const path = `api/stations/${api.seg(stationId)}`;
  let station = null;
  let areas = new Map();
  const areaName = (id) => (id ? (areas.get(id)?.name ?? id) : "");

  const title = h("h1", null, stationId);
  const badges = h("span", { class: "badges", id: "station-badges" });
  const feedback = h("div", { class: "feedback", id: "command-result", "aria-live": "polite" });
  const facts = h("div");
  const reported = h("div");
  const connection = h("div", { id: "connection" });
  const chargers = h("div", { id: "chargers" });
  const sessions = h("div", { id: "sessions" });
  const startForm = h("div");
  const editForm = h("div");
  const configuration = h("div", { id: "configuration" });
  const codes = h("div", { id: "qr-codes", class: "qr-grid" });

  function say(node) {
    replace(feedback, node);
  }

  async function command(what, action) {
    try {
      const answer = await action();
      const status = answer && answer.status ? `: ${answer.status}` : "";
      say(h("p", { class: answer && answer.status && answer.status !== "Accepted" ? "warning" : "success", role: "status" },
        `${what}${status}`));
      refresh().catch(() => {});
      return answer;
    } catch (error) {
      say(problemBox(error));
      return null;
    }
  }

  const post = (suffix, body) => () => api.postJson(`${path}/${suffix}`, body);

  const actions = h("div", { class: "actions" },
    actionButton("Trigger BootNotification", () => command("Trigger BootNotification",
      post("trigger", { message: "BootNotification" }))),
    actionButton("Trigger StatusNotification", () => command("Trigger StatusNotification",
      post("trigger", { message: "StatusNotification" }))),
    actionButton("Soft reset", async () => {
      if (confirm(`Soft reset ${stationId}? Running sessions are stopped.`)) {
        await command("Soft reset", post("reset", { type: "Soft" }));
      }
    }),
    actionButton("Hard reset", async () => {
      if (confirm(`Hard reset (reboot) ${stationId}? Running sessions are stopped.`)) {
        await command("Hard reset", post("reset", { type: "Hard" }));
      }
    }),
    actionButton("Disconnect", async () => {
      if (confirm(`Close the connection of ${stationId}? The station will reconnect on its own.`)) {
        await command(`Disconnected ${stationId}`, post("disconnect"));
      }
    }, { class: "danger", id: "disconnect" }),
    actionButton("Print QR sheet", () => printSheet(), { id: "print-sheet" }));

  // --- configuration ---------------------------------------------------------------------

  const keysInput = h("input", {
    name: "keys", placeholder: "all keys, or e.g. HeartbeatInterval, MeterValueSampleInterval",
  });
  const configForm = h("form", { class: "toolbar", id: "configuration-form" },
    field("Keys (optional)", keysInput),
    h("button", { type: "submit", class: "primary" }, "Read from station"));
  configForm.addEventListener("submit", (event) => {
    event.preventDefault();
    readConfiguration();
  });

  async function readConfiguration() {
    const keys = keysInput.value.split(/[\s,]+/).filter(Boolean);
    replace(configuration, h("p", { class: "hint" }, "Reading from the station…"));
    try {
      const answer = await api.getJson(`${path}/configuration`, { key: keys });
      drawConfiguration(answer);
    } catch (error) {
      replace(configuration, problemBox(error));
    }
  }

  function configRow(entry) {
    const result = h("td", { class: "write-result" });
    const cells = [h("th", { scope: "row" }, entry.key)];
    if (entry.readonly) {
      cells.push(h("td", null, h("span", { class: "value" }, entry.value ?? "")),
        h("td", null, h("span", { class: "muted" }, "read-only")), result);
    } else {
      const input = h("input", { name: entry.key, value: entry.value ?? "", "aria-label": entry.key });
      const write = actionButton("Write", async () => {
        replace(result, "…");
        try {
          const answer = await api.putJson(`${path}/configuration/${api.seg(entry.key)}`,
            { value: input.value });
          replace(result, h("span", { class: answer.status === "Accepted" ? "success" : "warning" },
            answer.status));
          const fresh = await api.getJson(`${path}/configuration`, { key: entry.key });
          const now = fresh.configuration.find((e) => e.key === entry.key);
          if (now) input.value = now.value ?? "";
        } catch (error) {
          replace(result, problemBox(error));
        }
      });
      cells.push(h("td", null, input), h("td", null, write), result);
    }
    return h("tr", { dataset: { key: entry.key } }, cells);
  }

  function drawConfiguration(answer) {
    const rows = answer.configuration.map(configRow);
    replace(configuration,
      h("p", { class: "hint" }, `${answer.configuration.length} keys read from the station at `
        + `${new Date().toLocaleTimeString()}.`),
      h("table", { class: "list config", id: "config-table" },
        h("thead", null, h("tr", null, ["Key", "Value", "", "Result"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", null, rows)),
      answer.unknown_keys.length
        ? h("p", { class: "warning" }, `Unknown to the station: ${answer.unknown_keys.join(", ")}`)
        : null);
  }

  // --- sessions ---------------------------------------------------------------------------

  const idTag = h("input", { name: "id_tag", required: true, maxlength: 20, placeholder: "e.g. DEMO-CARD" });
  const connectorChoice = h("select", { name: "connector_id" });
  let connectorIds = "";
  const start = h("form", { class: "toolbar", id: "remote-start-form" },
    field("Connector", connectorChoice), field("Id tag", idTag),
    h("button", { type: "submit" }, "Remote start"));
  start.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!idTag.value.trim()) {
      say(h("p", { class: "problem", role: "alert" }, "Enter the id tag to start the session for."));
      return;
    }
    await command("Remote start", post("remote-start",
      { id_tag: idTag.value.trim(), connector_id: Number(connectorChoice.value) }));
  });
  replace(startForm, start);

  function drawConnectorChoice() {
    const ids = station.chargers.flatMap((c) => c.connectors.map((k) => [k.ocpp_id, `${k.ocpp_id}: ${c.name}, ${k.name}`]));
    const key = JSON.stringify(ids);
    if (key === connectorIds) return;
    connectorIds = key;
    const chosen = connectorChoice.value;
    replace(connectorChoice, ids.map(([value, text]) => h("option", { value: String(value) }, text)));
    if (chosen) connectorChoice.value = chosen;
  }

  async function loadSessions() {
    const list = await api.getJson("api/transactions", { station_id: stationId, state: "active" });
    if (!list.items.length) {
      replace(sessions, h("p", { class: "hint" }, "No session is running."));
      return;
    }
    replace(sessions, h("table", { class: "list", id: "session-table" },
      h("thead", null, h("tr", null, ["Transaction", "Connector", "Id tag", "Started", "Energy", ""]
        .map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", null, list.items.map((t) => h("tr", null,
        h("td", null, t.transaction_id), h("td", { class: "num" }, t.connector_id ?? t.evse_id ?? ""),
        h("td", null, t.id_tag ?? ""), h("td", null, formatTime(t.started_at)),
        h("td", { class: "num" }, t.energy_wh === null ? "" : `${(t.energy_wh / 1000).toFixed(2)} kWh`),
        h("td", null, actionButton("Remote stop", () => command(`Remote stop ${t.transaction_id}`,
          post("remote-stop", { transaction_id: t.transaction_id })))))))));
  }

  // --- editing ----------------------------------------------------------------------------

  function drawEditForm() {
    const name = h("input", { name: "name", value: station.name, required: true });
    const area = select({ name: "area_id" },
      [["", "No area (not on the map)"], ...[...areas.values()].map((a) => [a.id, a.name])],
      station.area_id || "");
    const visible = h("input", { type: "checkbox", name: "visible", checked: station.visible });
    const form = h("form", { class: "toolbar", id: "edit-form" },
      field("Name", name), field("Area", area),
      h("label", { class: "check" }, visible, " Visible to drivers"),
      h("button", { type: "submit" }, "Save"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        station = await api.patchJson(path,
          { name: name.value.trim(), area_id: area.value || null, visible: visible.checked });
        say(h("p", { class: "success", role: "status" }, `Saved ${station.id}.`));
        draw();
      } catch (error) {
        say(problemBox(error));
      }
    });
    replace(editForm, form);
  }

  // --- QR codes ---------------------------------------------------------------------------

  async function showCodes() {
    replace(codes, h("p", { class: "hint" }, "Loading the QR codes…"));
    try {
      const answer = await api.getJson(`${path}/qr`);
      if (!answer.codes.length) {
        replace(codes, h("p", { class: "hint" }, "The station has no charger, so no QR code."));
        return;
      }
      const figures = await Promise.all(answer.codes.map(async (code) => {
        const image = h("img", { alt: `QR code ${code.payload}`, class: "qr", width: 164, height: 164 });
        image.src = URL.createObjectURL(await api.getBlob(code.svg_url));
        const png = actionButton("PNG", async () => {
          download(await api.getBlob(code.png_url), `qr-${code.payload.replace(/[^\w.-]+/g, "_")}.png`);
        });
        return h("figure", { class: "qr-code", dataset: { payload: code.payload } }, image,
          h("figcaption", null, h("span", null, code.label), h("code", null, code.payload), png));
      }));
      replace(codes, figures);
    } catch (error) {
      replace(codes, problemBox(error));
    }
  }

  async function printSheet() {
    const sheet = document.getElementById("sheet");
    const image = document.getElementById("sheet-image");
    try {
      const blob = await api.getBlob(`${path}/qr-sheet.svg`);
      if (image.src) URL.revokeObjectURL(image.src);
      image.src = URL.createObjectURL(blob);
      await image.decode();
    } catch (error) {
      say(problemBox(error));
      return;
    }
    sheet.dataset.station = stationId;
    document.body.classList.add("printing-sheet");
    window.addEventListener("afterprint", () => document.body.classList.remove("printing-sheet"),
      { once: true });
    window.print();
  }

  // --- layout and refresh -----------------------------------------------------------------

  replace(main,
    h("p", { class: "crumbs" }, h("a", { href: "#/stations" }, "← Stations")),
    h("div", { class: "heading" }, title, badges),
    actions, feedback,
    h("div", { class: "columns" },
      h("section", { class: "card" }, h("h2", null, "Station"), facts, editForm),
      h("section", { class: "card" }, h("h2", null, "Connection"), connection,
        h("h2", null, "Reported by the station"), reported)),
    h("section", { class: "card" }, h("h2", null, "Chargers and connectors"),
      h("p", { class: "hint" }, `Statuses refresh every ${DETAIL_POLL_MS / 1000} s.`), chargers),
    h("section", { class: "card" }, h("h2", null, "Sessions"), startForm, sessions),
    h("section", { class: "card" }, h("h2", null, "Live configuration"),
      h("p", { class: "hint" }, "Read from the connected station (GetConfiguration); change a "
        + "value and write it back (ChangeConfiguration)."),
      configForm, configuration),
    h("section", { class: "card" }, h("h2", null, "QR codes"),
      h("p", { class: "hint" }, "One per charger, or one per connector for a charger whose "
        + "connectors can be used at once. Print the sheet and stick each code on its charger."),
      h("div", { class: "actions" },
        actionButton("Show QR codes", showCodes, { id: "show-codes" }),
        actionButton("Print QR sheet", () => printSheet())),
      codes));

  function draw() {
    replace(title, station.name === station.id ? station.id : `${station.name} (${station.id})`);
    replace(badges, statusBadge(station.status, station.connection.connected), " ",
      connectionBadge(station.connection), " ",
      h("span", { class: `pill ${station.activation.state}` }, station.activation.state));
    replace(facts, stationFacts(station, areaName));
    replace(connection, connectionFacts(station));
    replace(reported, reportedFacts(station));
    replace(chargers, chargerTable(station));
    drawConnectorChoice();
    showProfileOutcomes();
  }

  /** Whether each charger's profile reached its station (the last attempt, if any). */
  async function showProfileOutcomes() {
    for (const charger of station.chargers) {
      if (!charger.charging_profile_id) continue;
      const holder = chargers.querySelector(`tr[data-charger="${CSS.escape(charger.id)}"] .charger-profile`);
      if (!holder) continue;
      try {
        const view = await api.getJson(`api/chargers/${api.seg(charger.id)}/charging-profile`);
        if (!view.sent) continue;
        holder.append(view.sent.accepted
          ? h("span", { class: "profile-sent" }, " (on the station)")
          : h("span", { class: "profile-sent problem-text" }, ` (not taken: ${view.sent.error})`));
      } catch {
        // the charger list shows the profile's name; its outcome is a nicety
      }
    }
  }

  async function refresh() {
    station = await api.getJson(path);
    draw();
    await loadSessions();
  }

  let stopPolling = () => {};
  let destroyed = false;
  let failing = false;
  (async () => {
    try {
      const [found, areaList] = await Promise.all([api.getJson(path), api.getJson("api/areas")]);
      station = found;
      areas = new Map(areaList.items.map((a) => [a.id, a]));
      draw();
      drawEditForm();
      await loadSessions();
    } catch (error) {
      replace(main, h("p", { class: "crumbs" }, h("a", { href: "#/stations" }, "← Stations")),
        h("h1", null, stationId), problemBox(error));
      return;
    }
    if (destroyed) return;
    stopPolling = poll(async () => {
      try {
        await refresh();
        failing = false;
      } catch (error) {
        const signedOut = error instanceof api.ApiError && error.status === 401;
        if (!failing && !signedOut) toast(`Refreshing ${stationId} failed: ${error.message}`, "error");
        failing = true;
        throw error;
      }
    }, DETAIL_POLL_MS);
  })();

  return {
    destroy() {
      destroyed = true;
      stopPolling();
      stopPolling = () => {};
      document.body.classList.remove("printing-sheet");
      for (const image of codes.querySelectorAll("img")) URL.revokeObjectURL(image.src);
    },
  };
}
