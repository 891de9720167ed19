/* textbridge inbox: The composer: the target, the WhatsApp window, templates, sending. */

import { idempotencyKey, request } from "./api.js";
import {
  announce,
  compactPhone,
  duration,
  el,
  fmtFull,
  fmtMoment,
  formatPhone,
  kindOf,
  KINDS,
  mimeOf,
  parseTime,
  providerName,
  safeUrl,
} from "./dom.js";
import { schedulePreview } from "./encoding.js";
import { option, parseChoice } from "./senders.js";
import { $, MAX_TEXT, state } from "./state.js";
import {
  exampleValues,
  findTemplate,
  loadTemplates,
  parameterLabel,
  templateCard,
} from "./templates.js";
import { mergeMessage, renderThread, selectConversation } from "./thread.js";

/* ---------------------------------------------------------------- composer */

export function extrasOf(key) {
  let extras = state.extras.get(key);
  if (!extras) {
    extras = { mediaUrl: "", mediaOpen: false, useTemplate: false, template: "", values: {} };
    state.extras.set(key, extras);
  }
  return extras;
}

/** Where the composer sends: the open conversation, or the recipient and sender picked. */
export function composerTarget() {
  const key = state.selected;
  if (!key) return null;
  if (key === "new") {
    const to = $("recipient-input").value.trim();
    const choice = parseChoice($("sender-picker").value);
    if (!choice) return { key, to, provider: null, channel: "sms", address: null, mms: false, conversation: null };
    const channel = choice.channel === "mms" ? "sms" : choice.channel;
    return {
      key, to, provider: choice.provider, channel, address: choice.address,
      mms: choice.channel === "mms", conversation: findConversation(to, choice.address, channel),
    };
  }
  const conversation = state.conversations.get(key);
  if (!conversation) return null;
  return {
    key, to: conversation.contact_address, provider: conversation.provider, channel: conversation.channel || "sms",
    address: conversation.sender_address, mms: false, conversation,
  };
}

export function findConversation(to, address, channel) {
  const phone = compactPhone(to);
  if (!phone) return null;
  for (const c of state.conversations.values()) {
    if (c.contact_address === phone && c.sender_address === address && c.channel === channel) return c;
  }
  return null;
}

/** The WhatsApp customer-care window: null off WhatsApp; open, closed, or never opened. */
export function windowInfo(target) {
  if (!target || target.channel !== "whatsapp") return null;
  const expires = target.conversation ? parseTime(target.conversation.window_expires_at) : null;
  if (!expires) return { state: "never" };
  const left = expires.getTime() - Date.now();
  return left > 0 ? { state: "open", expires, left } : { state: "closed", expires };
}

export function usesTemplate(target, info) {
  return Boolean(info) && (info.state !== "open" || extrasOf(target.key).useTemplate);
}

export function focusComposerField() {
  const target = composerTarget();
  if (target && usesTemplate(target, windowInfo(target))) {
    const select = $("template-select");
    const firstEmpty = Array.from($("template-params").querySelectorAll("input")).find((i) => !i.value);
    if (select.value && firstEmpty) firstEmpty.focus();
    else if (!select.hidden) select.focus();
    else $("template-sync").focus();
  } else {
    $("composer-text").focus();
  }
}

/** A conversation no message can be sent to (an alphanumeric sender ID...): say why instead. */
export function renderRefusal(target) {
  const conversation = target.conversation;
  const refused = Boolean(conversation) && conversation.replyable === false;
  const notice = $("composer-refusal");
  notice.hidden = !refused;
  notice.textContent = refused ? `You can't reply here: ${conversation.not_replyable_reason}.` : "";
  $("composer").hidden = refused;
  return refused;
}

export function renderComposer() {
  const target = composerTarget();
  if (!target) return;
  if (renderRefusal(target)) return;
  const extras = extrasOf(target.key);
  const info = windowInfo(target);
  const templated = usesTemplate(target, info);
  const windowNow = info ? info.state : null;
  if (target.key !== "new" && state.windowFor === target.key && state.windowState && windowNow && windowNow !== state.windowState) {
    announce(windowNow === "open"
      ? "The WhatsApp window is open again: free-form messages can be sent."
      : "The WhatsApp window has closed: only approved templates can be sent now.");
  }
  state.windowFor = target.key;
  state.windowState = windowNow;
  renderWindowState(info, extras);

  $("template-panel").hidden = !templated;
  if (templated) renderTemplatePanel(target.key, extras);

  const mediaOpen = !templated && (extras.mediaOpen || target.mms);
  const media = $("media-draft");
  media.hidden = !mediaOpen;
  $("media-toggle").hidden = templated || mediaOpen;
  $("media-toggle").setAttribute("aria-expanded", String(mediaOpen));
  if ($("media-url").value !== extras.mediaUrl) $("media-url").value = extras.mediaUrl;
  if (mediaOpen) renderMediaHelp(target, extras);

  const box = $("composer-text");
  box.disabled = state.sending || templated;
  box.maxLength = MAX_TEXT[target.channel] || MAX_TEXT.sms;
  if (templated) {
    box.placeholder = info.state === "open"
      ? "Template messages carry no free text: fill in the template above."
      : "Free-form messages need an open 24-hour window. Send a template above.";
  } else if (mediaOpen) {
    box.placeholder = "Add a caption (optional)…";
  } else {
    box.placeholder = target.channel === "whatsapp" ? "Write a WhatsApp message…" : "Write a message…";
  }
  $("composer").dataset.channel = target.channel;
  $("composer").dataset.mode = templated ? "template" : mediaOpen ? "media" : "text";
  $("composer-send").textContent = state.sending ? "Sending…" : templated ? "Send template" : "Send";
  $("composer-hint").hidden = templated;
}

export function renderWindowState(info, extras) {
  const box = $("window-state");
  if (!info) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  box.dataset.state = info.state;
  const title = $("window-title");
  const detail = $("window-detail");
  const toggle = $("template-toggle");
  if (info.state === "open") {
    title.textContent = `Window open · closes in ${duration(info.left)}`;
    title.title = `Free-form messages can be sent until ${fmtFull.format(info.expires)}`;
    detail.textContent = `Free-form WhatsApp messages are allowed until ${fmtMoment.format(info.expires)}, 24 hours after the contact's last message.`;
    toggle.hidden = false;
    toggle.textContent = extras.useTemplate ? "Write a message instead" : "Use a template";
    toggle.setAttribute("aria-pressed", String(extras.useTemplate));
  } else if (info.state === "closed") {
    title.textContent = "Window closed — send an approved template";
    title.title = `Closed ${fmtFull.format(info.expires)}`;
    detail.textContent = `It closed ${duration(Date.now() - info.expires.getTime())} ago, 24 hours after the contact's last message. It opens again when they write.`;
    toggle.hidden = true;
  } else {
    title.textContent = "No open window — send an approved template";
    title.title = "";
    detail.textContent = "The contact hasn't written to this number yet, so WhatsApp only allows approved templates.";
    toggle.hidden = true;
  }
}

export function renderMediaHelp(target, extras) {
  const url = extras.mediaUrl.trim();
  const kind = url ? KINDS[kindOf(mimeOf(url, ""))] : null;
  const what = kind && kind !== "File" ? `${kind}. ` : "";
  const help = target.channel === "whatsapp"
    ? `${what}The message text becomes its caption.`
    : `${what}Sent as MMS from ${formatPhone(target.address) || "the default number"}${target.provider ? ` via ${providerName(target.provider)}` : ""}.`;
  $("media-help").textContent = help;
}

export function templateChoice(extras) {
  if (!extras.template) return null;
  const [name, language] = extras.template.split("|");
  const found = findTemplate(name, language);
  return found && found.status === "APPROVED" ? found : null;
}

export const TEMPLATE_STATUS = { PENDING: "pending approval", REJECTED: "rejected", PAUSED: "paused", DISABLED: "disabled" };

export function renderTemplatePanel(key, extras) {
  const select = $("template-select");
  const empty = $("template-empty");
  const hasTemplates = state.templates.length > 0;
  select.hidden = !hasTemplates;
  empty.hidden = hasTemplates;
  if (!hasTemplates) {
    empty.textContent = state.templatesLoaded
      ? "No templates yet. Sync them from your WhatsApp Business Account to send one."
      : "Loading templates…";
  }
  const version = String(state.templatesVersion);
  if (select.dataset.version !== version) {
    const sorted = [...state.templates].sort((a, b) =>
      (a.status === "APPROVED" ? 0 : 1) - (b.status === "APPROVED" ? 0 : 1) || a.name.localeCompare(b.name));
    const nodes = [option("", "Choose an approved template…")];
    for (const t of sorted) {
      const approved = t.status === "APPROVED";
      const category = t.category ? t.category.charAt(0) + t.category.slice(1).toLowerCase() : "";
      const label = approved
        ? `${t.name} · ${t.language}${category ? ` · ${category}` : ""}`
        : `${t.name} · ${t.language} — ${TEMPLATE_STATUS[t.status] || t.status.toLowerCase()}`;
      nodes.push(option(`${t.name}|${t.language}`, label, { disabled: !approved }));
    }
    select.replaceChildren(...nodes);
    select.dataset.version = version;
  }
  const chosen = templateChoice(extras);
  select.value = chosen ? extras.template : "";
  $("template-body").hidden = !chosen;
  const params = $("template-params");
  const paramsKey = `${key}|${chosen ? extras.template : ""}|${version}`;
  if (params.dataset.for !== paramsKey) {
    params.dataset.for = paramsKey;
    params.replaceChildren(...(chosen ? parameterFields(chosen, extras) : []));
  }
  renderTemplatePreview(extras);
}

export function parameterFields(definition, extras) {
  const examples = exampleValues(definition);
  if (!definition.parameters.length) return [el("p", "template-none", "This template has no values to fill in.")];
  return definition.parameters.map((name, index) => {
    const field = el("div", "template-param");
    const id = `template-param-${index}`;
    const label = el("label", null, parameterLabel(name));
    label.htmlFor = id;
    const input = el("input");
    input.id = id;
    input.type = name === "header" || name.startsWith("button_") ? "url" : "text";
    input.autocomplete = "off";
    input.dataset.param = name;
    input.dataset.testid = "template-param";
    input.value = extras.values[name] || "";
    input.placeholder = examples[name] ? `e.g. ${examples[name]}` : "";
    input.disabled = state.sending;
    field.append(label, input);
    return field;
  });
}

export function renderTemplatePreview(extras) {
  const preview = $("template-preview");
  const chosen = templateChoice(extras);
  if (!chosen) {
    preview.replaceChildren();
    return;
  }
  preview.replaceChildren(templateCard(chosen.name, chosen.language, chosen, extras.values));
}

export function markParameter(name, problem) {
  for (const input of $("template-params").querySelectorAll("input")) {
    if (input.dataset.param === name) {
      input.setAttribute("aria-invalid", "true");
      input.title = problem;
      input.focus();
    }
  }
}

export async function syncTemplates() {
  const button = $("template-sync");
  const status = $("template-sync-status");
  button.disabled = true;
  status.className = "template-sync-status";
  status.textContent = "Syncing templates…";
  try {
    const result = await request("/api/v1/templates/sync", { method: "POST" });
    await loadTemplates();
    const count = result ? result.synced : state.templates.length;
    const from = result && result.provider ? ` from ${providerName(result.provider)}` : "";
    status.textContent = `Synced ${count} template${count === 1 ? "" : "s"}${from}.`;
    status.className = "template-sync-status is-ok";
  } catch (error) {
    status.textContent = `Could not sync templates: ${error.message}`;
    status.className = "template-sync-status is-error";
  } finally {
    button.disabled = false;
  }
}

export function autoGrow() {
  const box = $("composer-text");
  box.style.height = "auto";
  box.style.height = `${Math.min(box.scrollHeight, 200)}px`;
}

export function showComposerError(text) {
  const error = $("composer-error");
  error.textContent = text;
  error.hidden = false;
}

export function clearComposerError() {
  const error = $("composer-error");
  error.textContent = "";
  error.hidden = true;
  showRecipientError(null);
  $("media-url").removeAttribute("aria-invalid");
  for (const input of $("template-params").querySelectorAll("input")) input.removeAttribute("aria-invalid");
}

export function showRecipientError(text) {
  const error = $("recipient-error");
  const input = $("recipient-input");
  error.textContent = text || "";
  error.hidden = !text;
  if (text) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
}

export function setSending(sending) {
  state.sending = sending;
  const form = $("composer");
  form.setAttribute("aria-busy", sending ? "true" : "false");
  for (const id of ["composer-send", "recipient-input", "sender-picker", "media-url", "media-remove", "template-select"]) {
    $(id).disabled = sending;
  }
  for (const input of $("template-params").querySelectorAll("input")) input.disabled = sending;
  renderComposer();
}

/** The request body for what the composer holds, or a problem to show (and where). */
export function buildSend(target, text) {
  const extras = extrasOf(target.key);
  const body = { to: target.to };
  if (target.address) body.from = target.address;
  if (target.provider) body.provider = target.provider;
  if (usesTemplate(target, windowInfo(target))) {
    const chosen = templateChoice(extras);
    if (!chosen) return { problem: "Choose an approved template first.", focus: "template-select" };
    const values = {};
    for (const name of chosen.parameters) {
      const value = (extras.values[name] || "").trim();
      if (!value) return { problem: `Fill in ${parameterLabel(name)} before sending.`, parameter: name };
      values[name] = value;
    }
    body.channel = "whatsapp";
    body.template = { name: chosen.name, language: chosen.language };
    if (chosen.parameters.length) body.template.parameters = values;
    return { body };
  }
  const mediaOpen = extras.mediaOpen || target.mms;
  const mediaUrl = mediaOpen ? extras.mediaUrl.trim() : "";
  if (target.channel === "whatsapp") body.channel = "whatsapp";
  else body.channel = target.mms || mediaUrl ? "mms" : "sms";
  if (mediaUrl) {
    if (!safeUrl(mediaUrl)) return { problem: "Enter the media's full address, starting with https://.", focus: "media-url" };
    body.media = target.channel === "whatsapp" ? { url: mediaUrl } : [{ url: mediaUrl }];
  } else if (body.channel === "mms") {
    return { problem: "Add the media URL to send an MMS.", focus: "media-url" };
  } else if (!text.trim()) {
    return { problem: "Write a message first.", focus: "composer-text" };
  }
  if (text.trim()) body.text = text;
  return { body };
}

export async function send() {
  if (state.sending || !state.selected) return;
  const target = composerTarget();
  if (!target) return;
  const box = $("composer-text");
  const text = box.value;
  clearComposerError();
  let recipientInput = null;
  if (target.key === "new") {
    recipientInput = $("recipient-input");
    if (!target.to) {
      showRecipientError("Enter the contact's number, e.g. +14155550199.");
      recipientInput.focus();
      return;
    }
  }
  const built = buildSend(target, text);
  if (built.problem) {
    showComposerError(built.problem);
    if (built.parameter) markParameter(built.parameter, built.problem);
    if (built.focus === "media-url") $("media-url").setAttribute("aria-invalid", "true");
    if (built.focus) $(built.focus).focus();
    return;
  }
  const body = built.body;
  const fingerprint = JSON.stringify(body);
  if (!state.pendingSend || state.pendingSend.fingerprint !== fingerprint) {
    state.pendingSend = { fingerprint, key: idempotencyKey() };
  }
  const sentFrom = state.selected;
  let focusAfter = null;
  setSending(true);
  try {
    const message = await request("/api/v1/messages", {
      method: "POST",
      json: body,
      headers: { "Idempotency-Key": state.pendingSend.key },
    });
    state.pendingSend = null;
    // A template carries none of the typed text: that draft stays for when the window opens.
    const usedText = !body.template;
    if (usedText) state.drafts.delete(sentFrom);
    state.extras.delete(sentFrom);
    if (state.selected === sentFrom) {
      if (usedText) box.value = "";
      $("media-url").value = "";
      $("template-params").dataset.for = "";
      autoGrow();
      schedulePreview();
    }
    if (sentFrom === "new" && state.selected === "new") {
      $("recipient-input").value = "";
      state.drafts.delete("new");
      state.selected = null; // so the draft of "new" is not saved back
      await selectConversation(message.conversation_id);
    }
    if (state.selected === message.conversation_id) {
      mergeMessage(message);
      renderThread({ stickToBottom: true });
    }
  } catch (error) {
    // Everything typed stays; say what went wrong next to the field at fault.
    focusAfter = handleSendError(error, target, sentFrom);
  } finally {
    setSending(false);
    if (focusAfter) focusAfter.focus();
    else if (recipientInput && !$("recipient-error").hidden) recipientInput.focus();
    else if (state.selected) focusComposerField();
  }
}

export function handleSendError(error, target, sentFrom) {
  const field = error.field || "";
  if (error.code === "outside_whatsapp_window") {
    // The server's clock has the last word: show the window as it sees it, offer templates.
    const closedAt = parseTime(error.details.window_closed_at);
    if (target.conversation) target.conversation.window_expires_at = error.details.window_closed_at || null;
    const since = closedAt ? `closed at ${fmtMoment.format(closedAt)}` : "has not been opened by the contact";
    showComposerError(`Not sent: the WhatsApp window ${since}. Free-form messages need an open window; send an approved template instead. Your text is kept below.`);
    renderComposer();
    return null;
  }
  if (field === "to" && sentFrom === "new") {
    showRecipientError(recipientMessage(error));
    return null;
  }
  const parameter = /^template\.parameters\.(.+)$/.exec(field);
  if (parameter) {
    showComposerError(`Not sent: ${error.message}`);
    markParameter(parameter[1], error.message);
    return document.activeElement;
  }
  if (field.startsWith("media")) {
    showComposerError(`Not sent: ${error.message}`);
    $("media-url").setAttribute("aria-invalid", "true");
    return $("media-draft").hidden ? null : $("media-url");
  }
  if (field === "text") {
    showComposerError(error.message);
    return null;
  }
  showComposerError(error.status === 0 ? error.message : `Not sent: ${error.message}`);
  return null;
}

export function recipientMessage(error) {
  const detail = error.message.replace(/^to:\s*/i, "");
  if (error.code === "recipient_not_replyable") return `Can't send there: ${detail}`;
  return `That number can't be used: ${detail}`;
}
