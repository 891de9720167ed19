/* textbridge inbox: The contact panel: the contact's name (editable), address, country and local
 * time, consent (its state, its history, opt-out and opt-in by hand), and the person's other
 * conversations (the same address, with another of our numbers or on another channel). */

import { request } from "./api.js";
import { channelName, contactAddress, el, fmtFull, formatPhone, parseTime, providerName } from "./dom.js";
import { renderList } from "./list.js";
import { $, state } from "./state.js";
import { renderThreadHead, selectConversation } from "./thread.js";

const CONSENT_STATES = {
  opted_in: ["delivered", "Opted in"],
  opted_out: ["failed", "Opted out: messages to them are refused"],
  none: ["pending", "No record: the default rules apply"],
};
const ACTIONS = { opt_in: "Opted in", opt_out: "Opted out" };
const regionNames = new Intl.DisplayNames(undefined, { type: "region" });

let shownFor = null; // the conversation id the panel shows
let loadToken = 0;
let contact = null; // the last ContactOut shown, for the local time
let fetchedOthers = []; // the contact's conversations as the API gave them (the list may not hold them all)

export function isContactPanelOpen() {
  return !$("contact-panel").hidden;
}

export function openContactPanel(open) {
  $("contact-panel").hidden = !open;
  $("contact-toggle").setAttribute("aria-expanded", String(open));
  $("layout").dataset.panel = open ? "contact" : "";
  if (open) {
    shownFor = null;
    renderContactPanel();
    $("contact-name").focus();
  }
}

function selectedConversation() {
  return state.selected && state.selected !== "new" ? state.conversations.get(state.selected) : null;
}

/** Called whenever the selection changes: the panel follows it (and closes on "new"). */
export function renderContactPanel() {
  const conversation = selectedConversation();
  $("contact-toggle").hidden = !conversation;
  if (!isContactPanelOpen()) return;
  if (!conversation) {
    openContactPanel(false);
    return;
  }
  renderOthers(conversation);
  if (shownFor === conversation.id) return;
  shownFor = conversation.id;
  $("contact-address").textContent = contactAddress(conversation);
  $("contact-name").value = conversation.contact_name || "";
  $("contact-name-status").textContent = "";
  $("consent-status").textContent = "";
  loadContact(conversation).catch((error) => {
    $("contact-name-status").textContent = `Could not load the contact: ${error.message}`;
  });
}

async function loadContact(conversation) {
  const token = ++loadToken;
  const address = encodeURIComponent(conversation.contact_address);
  const [found, consent, conversations] = await Promise.all([
    request(`/api/v1/contacts/${address}`),
    conversation.contact_address_kind === "e164" ? request(`/api/v1/contacts/${address}/consent`) : null,
    // Only the panel's "other conversations": its failure (an erasure meanwhile) hides them alone.
    request(`/api/v1/contacts/${address}/conversations`).catch(() => []),
  ]);
  if (token !== loadToken) return;
  contact = found;
  fetchedOthers = conversations;
  renderOthers(conversation);
  $("contact-country").textContent = found.country ? `${regionNames.of(found.country)} (${found.country})` : "Unknown";
  tickLocalTime();
  renderConsent(consent);
}

/** The contact's local time: its own zone if set, else the zone(s) its number may be in. */
export function tickLocalTime() {
  const shown = $("contact-local-time");
  if (!contact || !isContactPanelOpen()) return;
  const zones = contact.time_zone ? [contact.time_zone] : contact.estimated_time_zones;
  if (!zones.length) {
    shown.textContent = "Unknown";
    return;
  }
  const now = new Date();
  const times = zones.slice(0, 3).map((zone) => {
    const time = new Intl.DateTimeFormat(undefined, { timeZone: zone, weekday: "short", hour: "numeric", minute: "2-digit" });
    return `${time.format(now)} (${zone.replace(/_/g, " ")})`;
  });
  const more = zones.length > 3 ? ` and ${zones.length - 3} more zones` : "";
  shown.textContent = times.join(", ") + more;
}

function renderConsent(consent) {
  const chip = $("contact-consent-state");
  const history = $("consent-history");
  const buttons = [$("consent-opt-out"), $("consent-opt-in")];
  if (!consent) {
    chip.className = "chip chip-pending";
    chip.textContent = "Not recorded for this kind of address";
    chip.dataset.state = "none";
    history.replaceChildren();
    for (const button of buttons) button.hidden = true;
    return;
  }
  const current = consent.states["*"] || "none";
  const [tone, label] = CONSENT_STATES[current] || ["pending", current];
  chip.className = `chip chip-${tone}`;
  chip.textContent = label;
  chip.dataset.state = current;
  $("consent-opt-out").hidden = current === "opted_out";
  $("consent-opt-in").hidden = current === "opted_in";
  const rows = [...consent.history].reverse().map(historyItem);
  if (!rows.length) rows.push(el("li", "consent-empty", "No consent recorded yet."));
  history.replaceChildren(...rows);
}

function historyItem(record) {
  const item = el("li", "consent-record");
  item.dataset.testid = "consent-record";
  item.dataset.action = record.action;
  const at = parseTime(record.recorded_at);
  const scope = record.scope === "*" ? "" : ` for ${formatPhone(record.scope)}`;
  const who = record.actor ? ` by ${record.actor.replace(/^user:/, "")}` : "";
  item.append(
    el("span", "consent-action", `${ACTIONS[record.action] || record.action}${scope}`),
    el("span", "consent-detail", ` · ${record.source}${who}`),
    el("time", "consent-time", at ? fmtFull.format(at) : ""),
  );
  return item;
}

async function recordConsent(action) {
  const conversation = selectedConversation();
  if (!conversation) return;
  const status = $("consent-status");
  const address = encodeURIComponent(conversation.contact_address);
  status.textContent = "Saving…";
  try {
    const consent = await request(`/api/v1/contacts/${address}/consent`, { method: "POST", json: { action } });
    renderConsent(consent);
    status.textContent = action === "opt_out" ? "Opted out. Messages to them will be refused." : "Opted in.";
  } catch (error) {
    status.textContent = `Not saved: ${error.message}`;
  }
}

async function saveName(event) {
  event.preventDefault();
  const conversation = selectedConversation();
  if (!conversation) return;
  const status = $("contact-name-status");
  const name = $("contact-name").value.trim();
  try {
    const saved = await request(`/api/v1/contacts/${encodeURIComponent(conversation.contact_address)}`, {
      method: "PATCH",
      json: { name: name || null },
    });
    for (const other of state.conversations.values()) {
      if (other.contact_address === saved.address) other.contact_name = saved.name;
    }
    renderList();
    renderThreadHead();
    status.textContent = saved.name ? "Saved." : "Name cleared.";
  } catch (error) {
    status.textContent = `Not saved: ${error.message}`;
  }
}

function renderOthers(conversation) {
  const byId = new Map(fetchedOthers.map((other) => [other.id, other]));
  for (const other of state.conversations.values()) byId.set(other.id, other); // the live copy
  const others = [...byId.values()].filter(
    (other) => other.contact_address === conversation.contact_address && other.id !== conversation.id,
  );
  const items = others.map((other) => {
    const item = el("li");
    const button = el("button", "link-button", `${channelName(other.channel)} via ${providerName(other.provider)} · ${formatPhone(other.sender_address)}`);
    button.type = "button";
    button.dataset.testid = "contact-other";
    button.addEventListener("click", () => {
      if (!state.conversations.has(other.id)) state.conversations.set(other.id, other);
      selectConversation(other.id);
    });
    item.append(button);
    return item;
  });
  if (!items.length) items.push(el("li", "contact-none", "None."));
  $("contact-others").replaceChildren(...items);
}

export function setupContactPanel() {
  $("contact-toggle").addEventListener("click", () => openContactPanel(!isContactPanelOpen()));
  $("contact-close").addEventListener("click", () => {
    openContactPanel(false);
    $("contact-toggle").focus();
  });
  $("contact-name-form").addEventListener("submit", saveName);
  $("consent-opt-out").addEventListener("click", () => recordConsent("opt_out"));
  $("consent-opt-in").addEventListener("click", () => recordConsent("opt_in"));
  window.setInterval(tickLocalTime, 30000);
}
