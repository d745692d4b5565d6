// The station list: search, filters, sorting, pages; CSV export, print and copy. The page
// shown is fetched again every few seconds (LIST_POLL_MS) so statuses stay live.

import * as api from "../api.js";
import { field, h, replace, select } from "../dom.js";
import {
  STATUSES, connectionBadge, copyText, download, formatTime, poll, problemBox, statusBadge,
  tabSeparated, toast,
} from "../ui.js";

export const LIST_POLL_MS = 5000;

const PAGE_SIZES = ["25", "50", "100", "250"];

function chargersText(station) {
  const connectors = station.chargers.reduce((n, c) => n + c.connectors.length, 0);
  return `${station.chargers.length} / ${connectors}`;
}

function columns(areaName) {
  // [title, sort key or null, cell as text (copy), cell as node (table)]
  return [
    ["ID", "id", (s) => s.id, (s) => h("a", { href: `#/stations/${api.seg(s.id)}` }, s.id)],
    ["Name", "name", (s) => s.name],
    ["Code", "code", (s) => s.code],
    ["Area", null, (s) => areaName(s.area_id)],
    ["Status", "status", (s) => s.status || "",
      (s) => statusBadge(s.status, s.connection.connected)],
    ["Operational", null, (s) => s.operational_status || ""],
    ["Connection", null, (s) => (s.connection.connected ? "online" : "offline"),
      (s) => connectionBadge(s.connection)],
    ["Last seen", "last_seen", (s) => formatTime(s.connection.last_seen)],
    ["Activation", null, (s) => s.activation.state],
    ["Protocol", null, (s) => s.protocol || ""],
    ["Chargers / connectors", null, chargersText],
  ];
}

export function mountStations(main, { params, setParams }) {
  const state = {
    search: params.get("search") || "",
    status: params.get("status") || "",
    area_id: params.get("area_id") || "",
    connected: params.get("connected") || "",
    activation: params.get("activation") || "",
    sort: params.get("sort") || "id",
    page: Number(params.get("page")) || 1,
    page_size: params.get("page_size") || "50",
  };
  let areas = new Map();
  let lastPage = null;
  const areaName = (id) => (id ? (areas.get(id)?.name ?? id) : "");

  const search = h("input", {
    type: "search", name: "search", value: state.search, placeholder: "ID, name, code, serial…",
  });
  const status = select({ name: "status" }, [["", "Any status"], ...STATUSES], state.status);
  const area = select({ name: "area_id" }, [["", "Any area"]], state.area_id);
  const connected = select({ name: "connected" },
    [["", "Online or offline"], ["true", "Online"], ["false", "Offline"]], state.connected);
  const activation = select({ name: "activation" },
    [["", "Active or inactive"], ["active", "Active"], ["inactive", "Inactive"]],
    state.activation);
  const pageSize = select({ name: "page_size" }, PAGE_SIZES, state.page_size);

  const table = h("table", { class: "list", id: "station-table" });
  const summary = h("p", { class: "summary", "aria-live": "polite" });
  const pager = h("nav", { class: "pager", "aria-label": "Pages" });
  const errors = h("div");
  const printHeading = h("p", { class: "print-only" });

  const toolbar = h("form", { class: "toolbar filters", role: "search" },
    field("Search", search), field("Status", status), field("Area", area),
    field("Connection", connected), field("Activation", activation), field("Per page", pageSize));
  toolbar.addEventListener("submit", (event) => event.preventDefault());

  const actions = h("div", { class: "actions" },
    h("button", { type: "button", onclick: exportCsv }, "CSV"),
    h("button", { type: "button", onclick: () => window.print() }, "Print"),
    h("button", { type: "button", onclick: copyPage }, "Copy"));

  replace(main,
    h("div", { class: "heading" }, h("h1", null, "Stations"), actions),
    toolbar, errors, printHeading, summary, table, pager);

  function filters() {
    return {
      search: state.search, status: state.status, area_id: state.area_id,
      connected: state.connected, activation: state.activation, sort: state.sort,
    };
  }

  function remember() {
    setParams({ ...filters(), sort: state.sort === "id" ? "" : state.sort,
      page: state.page > 1 ? state.page : "", page_size: state.page_size === "50" ? "" : state.page_size });
  }

  let latest = 0;
  async function load() {
    const ticket = ++latest;
    try {
      const page = await api.getJson("api/stations",
        { ...filters(), page: state.page, page_size: state.page_size });
      if (ticket !== latest) return; // a newer request (other filters) is on its way
      lastPage = page;
      errors.replaceChildren();
      draw(page);
    } catch (error) {
      replace(errors, problemBox(error));
      throw error;
    }
  }

  function draw(page) {
    const cols = columns(areaName);
    const pages = Math.max(1, Math.ceil(page.total / page.page_size));
    const first = page.total ? (page.page - 1) * page.page_size + 1 : 0;
    const last = Math.min(page.total, page.page * page.page_size);
    replace(summary, page.total
      ? `Stations ${first}–${last} of ${page.total}`
      : "No station matches these filters.");
    replace(printHeading, `Stations, page ${page.page} of ${pages}, printed ${new Date().toLocaleString()}`);
    const head = h("tr", null, cols.map(([title, key]) => {
      if (!key) return h("th", { scope: "col" }, title);
      const sorted = state.sort === key ? "ascending" : state.sort === `-${key}` ? "descending" : "none";
      const arrow = sorted === "ascending" ? " ▲" : sorted === "descending" ? " ▼" : "";
      return h("th", { scope: "col", "aria-sort": sorted },
        h("button", {
          type: "button", class: "sort", dataset: { sort: key },
          onclick: () => sortBy(key),
        }, title, arrow));
    }));
    const body = page.items.map((station) => h("tr", { dataset: { station: station.id } },
      cols.map(([, , text, node]) => h("td", null, node ? node(station) : text(station)))));
    replace(table, h("thead", null, head), h("tbody", null, body));
    replace(pager,
      h("button", { type: "button", disabled: page.page <= 1, onclick: () => go(page.page - 1) },
        "← Previous"),
      h("span", { class: "page-of" }, `Page ${page.page} of ${pages}`),
      h("button", { type: "button", disabled: page.page >= pages, onclick: () => go(page.page + 1) },
        "Next →"));
  }

  function sortBy(key) {
    state.sort = state.sort === key ? `-${key}` : key;
    state.page = 1;
    remember();
    load();
  }

  function go(page) {
    state.page = page;
    remember();
    load();
  }

  function changed() {
    state.search = search.value.trim();
    state.status = status.value;
    state.area_id = area.value;
    state.connected = connected.value;
    state.activation = activation.value;
    state.page_size = pageSize.value;
    state.page = 1;
    remember();
    load();
  }

  let typing = null;
  search.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(changed, 300);
  });
  for (const control of [status, area, connected, activation, pageSize]) {
    control.addEventListener("change", changed);
  }

  async function exportCsv() {
    try {
      download(await api.getBlob("api/stations.csv", filters()), "stations.csv");
    } catch (error) {
      toast(`CSV export failed: ${error.message}`, "error");
    }
  }

  async function copyPage() {
    if (!lastPage) return;
    const cols = columns(areaName);
    const rows = [cols.map(([title]) => title),
      ...lastPage.items.map((station) => cols.map(([, , text]) => text(station)))];
    try {
      await copyText(tabSeparated(rows));
      toast(`Copied ${lastPage.items.length} stations (tab-separated) to the clipboard.`);
    } catch (error) {
      toast(`Copy failed: ${error.message}`, "error");
    }
  }

  api.getJson("api/areas").then((list) => {
    areas = new Map(list.items.map((a) => [a.id, a]));
    const options = [["", "Any area"], ...list.items.map((a) => [a.id, a.name])];
    replace(area, options.map(([value, text]) => h("option", { value }, text)));
    area.value = state.area_id;
    if (lastPage) draw(lastPage);
  }).catch(() => {});

  load().catch(() => {});
  const stopPolling = poll(load, LIST_POLL_MS);
  return { destroy: () => { stopPolling(); clearTimeout(typing); } };
}
