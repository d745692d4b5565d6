// The console's entry point: sign-in, the hash router and the views.
//
// Routes: #/stations (list), #/stations/ID (details), #/import (import and activation),
// #/map, #/areas, #/areas/ID (allocations), #/profiles. A view is mount(main, context) -> {destroy()}; destroy stops its polling.

import * as api from "./api.js";
import { field, h, replace } from "./dom.js";
import { problemText } from "./ui.js";
import { mountAllocations } from "./views/allocations.js";
import { mountAreas } from "./views/areas.js";
import { mountImport } from "./views/import.js";
import { mountMap } from "./views/map.js";
import { mountProfiles } from "./views/profiles.js";
import { mountStation } from "./views/station.js";
import { mountStations } from "./views/stations.js";

const ROUTES = [
  [/^\/stations\/([^/]+)$/, "stations", (main, ctx, m) => mountStation(main, ctx, decodeURIComponent(m[1]))],
  [/^\/stations$/, "stations", mountStations],
  [/^\/import$/, "import", mountImport],
  [/^\/map$/, "map", mountMap],
  [/^\/areas$/, "areas", mountAreas],
  [/^\/areas\/([^/]+)$/, "areas", (main, ctx, m) => mountAllocations(main, ctx, decodeURIComponent(m[1]))],
  [/^\/profiles$/, "profiles", mountProfiles],
];

const main = document.getElementById("view");
let current = null;

function location_() {
  const raw = window.location.hash.replace(/^#/, "") || "/stations";
  const [path, query = ""] = raw.split("?", 2);
  return { path, params: new URLSearchParams(query) };
}

/** Keep a view's state (filters, page) in the address without reloading the view. */
function setParams(path, params) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(name, String(value));
  }
  const text = query.toString();
  history.replaceState(null, "", `#${path}${text ? `?${text}` : ""}`);
}

function stop() {
  if (current) current.destroy?.();
  current = null;
}

function render() {
  stop();
  if (!api.token()) {
    showSignIn();
    return;
  }
  document.getElementById("topbar").hidden = false;
  const { path, params } = location_();
  main.replaceChildren();
  for (const [pattern, section, mount] of ROUTES) {
    const match = pattern.exec(path);
    if (!match) continue;
    for (const link of document.querySelectorAll("#nav a")) {
      link.classList.toggle("active", link.dataset.view === section);
      if (link.dataset.view === section) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    current = mount(main, { params, setParams: (values) => setParams(path, values) }, match);
    return;
  }
  replace(main, h("h1", null, "Not found"),
    h("p", null, "The console has no page ", h("code", null, path), ". ",
      h("a", { href: "#/stations" }, "Go to the stations.")));
}

function showSignIn(message, isError = true) {
  document.getElementById("topbar").hidden = true;
  const input = h("input", {
    type: "password", name: "token", id: "token", autocomplete: "current-password",
    required: true, autofocus: true, spellcheck: "false",
  });
  const alarm = Boolean(message) && isError;
  const note = h("p", { class: alarm ? "problem" : "hint", role: alarm ? "alert" : null },
    message || "The admin token is the one given with --admin-token or EVCHARGE_ADMIN_TOKEN, "
      + "or the one the server printed once when it started.");
  const button = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h("form", { class: "signin card", novalidate: true },
    h("h1", null, "evcharge console"), note,
    field("Admin token", input),
    button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const candidate = input.value.trim();
    if (!candidate) {
      replace(note, "Enter the admin token.");
      note.className = "problem";
      return;
    }
    button.disabled = true;
    try {
      if (await api.checkToken(candidate)) {
        api.signIn(candidate);
        render();
        return;
      }
      replace(note, "That token is wrong: the admin API refused it.");
    } catch (error) {
      replace(note, problemText(error));
    } finally {
      button.disabled = false;
    }
    note.className = "problem";
    note.setAttribute("role", "alert");
    input.select();
  });
  replace(main, form);
  input.focus();
}

api.onUnauthorized(() => {
  stop();
  showSignIn("The admin API refused the token (it may have changed when the server "
    + "restarted). Sign in again.");
});

document.getElementById("sign-out").addEventListener("click", () => {
  api.signOut();
  stop();
  showSignIn("Signed out. The token was forgotten.", false);
});

window.addEventListener("hashchange", render);
render();
