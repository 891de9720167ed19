/* textbridge inbox: Our numbers: the sender picker. */

import { request } from "./api.js";
import { channelName, el, formatPhone, providerName } from "./dom.js";
import { renderSimulatorRoutes } from "./sandbox.js";
import { $, state } from "./state.js";

/* ----------------------------------------------------------------- senders */

/** A sender choice, as the value of an <option>: "plivo/sms/+14155550100". */
export function choiceValue(provider, channel, address) {
  return `${provider}/${channel}/${address}`;
}

export function parseChoice(value) {
  const [provider, channel, ...rest] = (value || "").split("/");
  return provider && channel && rest.length ? { provider, channel, address: rest.join("/") } : null;
}

export function senderLabel(channel, provider, address) {
  return `${channelName(channel)} · ${providerName(provider)} · ${formatPhone(address)}`;
}

export function option(value, text, { disabled = false } = {}) {
  const node = el("option", null, text);
  node.value = value;
  node.disabled = disabled;
  return node;
}

export async function loadSenders() {
  state.senders = (await request("/api/v1/senders")) || [];
  renderSenderPicker();
  renderSimulatorRoutes();
}

export function renderSenderPicker() {
  const picker = $("sender-picker");
  const previous = picker.value;
  const groups = [
    ["SMS", (s) => s.channel === "sms", "sms"],
    ["MMS · text with media, from an SMS number", (s) => s.channel === "sms", "mms"],
    ["WhatsApp", (s) => s.channel === "whatsapp", "whatsapp"],
  ];
  const nodes = [];
  for (const [label, wanted, channel] of groups) {
    const senders = state.senders.filter(wanted);
    if (!senders.length) continue;
    const group = el("optgroup");
    group.label = label;
    for (const s of senders) {
      group.append(option(choiceValue(s.provider, channel, s.address), senderLabel(channel, s.provider, s.address)));
    }
    nodes.push(group);
  }
  picker.replaceChildren(...nodes);
  const values = Array.from(picker.options, (o) => o.value);
  const first = state.senders[0];
  picker.value = values.includes(previous) ? previous : first ? choiceValue(first.provider, first.channel, first.address) : "";
  const none = state.senders.length === 0;
  $("sender-field").hidden = none;
  $("sender-label").hidden = none;
  renderSenderHelp();
}

export function renderSenderHelp() {
  const choice = parseChoice($("sender-picker").value);
  const help = {
    sms: "Plain text. Long messages are split into segments.",
    mms: "Text with a picture or other media, sent from this SMS number.",
    whatsapp: "A new WhatsApp conversation starts with an approved template.",
  };
  $("sender-help").textContent = choice ? help[choice.channel] || "" : "";
}
