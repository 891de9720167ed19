/* textbridge inbox: Message content: text, media, locations, interactive messages. */

import { el, fileNameOf, icon, KINDS, safeUrl } from "./dom.js";
import { $, state } from "./state.js";
import { findTemplate, sentValues, templateCard } from "./templates.js";

/* ------------------------------------------------------- message content */

export function mediaNode(item, outbound) {
  const url = safeUrl(item.url);
  const kind = KINDS[item.kind] ? item.kind : "file";
  const name = item.filename || (url ? fileNameOf(url) : item.url || "Attachment");
  const host = url ? url.hostname : "";
  const visual = kind === "image" || kind === "sticker";
  const node = el(url ? "a" : "div", `attachment ${visual ? "attachment-visual" : "attachment-file"}`);
  node.dataset.testid = "attachment";
  node.dataset.kind = kind;
  if (url) {
    node.href = url.href;
    node.target = "_blank";
    node.rel = "noopener noreferrer";
    node.setAttribute("referrerpolicy", "no-referrer");
    node.title = `Open ${item.url}`;
  }
  const details = el("span", "attachment-details");
  const nameNode = el("span", "attachment-name", name);
  nameNode.dataset.testid = "attachment-name";
  const meta = [KINDS[kind]];
  if (host) meta.push(host);
  if (item.size) meta.push(`${Math.max(1, Math.round(item.size / 1024))} KB`);
  const metaNode = el("span", "attachment-meta", meta.join(" · "));
  details.append(nameNode, metaNode);
  if (!visual) {
    node.append(icon(kind === "sticker" ? "image" : kind, "attachment-icon"), details);
    return node;
  }
  // A framed placeholder (kind, name, host) that the image covers once it loads; if it
  // cannot load (sandbox hosts do not resolve, the link expired) the frame stays and says so.
  const fallback = el("span", "attachment-fallback");
  const note = el("span", "attachment-note");
  note.dataset.testid = "attachment-note";
  details.append(note);
  fallback.append(icon("image", "attachment-icon"), details);
  node.append(fallback);
  const fail = (why) => {
    node.dataset.state = "failed";
    note.textContent = why;
  };
  if (url && url.protocol === "https:") {
    node.dataset.state = "loading";
    const img = document.createElement("img");
    img.setAttribute("loading", "lazy");
    img.setAttribute("decoding", "async");
    img.setAttribute("referrerpolicy", "no-referrer");
    img.alt = item.caption || name;
    img.addEventListener("load", () => {
      if (img.naturalWidth > 0) node.dataset.state = "loaded";
      else fail("Preview unavailable");
    });
    img.addEventListener("error", () => {
      img.hidden = true;
      fail("Preview unavailable");
    });
    img.src = url.href;
    node.append(img);
  } else {
    fail(url ? "No preview for http:// links" : "Not a web link");
  }
  node.classList.toggle("on-dark", outbound);
  return node;
}

export function locationNode(location) {
  const lat = Number(location.latitude);
  const lon = Number(location.longitude);
  const valid = Number.isFinite(lat) && Number.isFinite(lon);
  const node = el(valid ? "a" : "div", "location");
  node.dataset.testid = "location";
  if (valid) {
    node.href = `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=16/${lat}/${lon}`;
    node.target = "_blank";
    node.rel = "noopener noreferrer";
  }
  const text = el("span", "location-text");
  text.append(el("span", "location-name", location.name || "Shared location"));
  if (location.address) text.append(el("span", "location-address", location.address));
  if (valid) text.append(el("span", "location-coordinates", `${lat.toFixed(5)}, ${lon.toFixed(5)}`));
  node.append(icon("pin", "location-icon"), text);
  return node;
}

export function interactiveNode(interactive) {
  const node = el("div", "interactive");
  const header = interactive.header && interactive.header.text;
  if (header) node.append(el("p", "interactive-header", header));
  const body = interactive.body && interactive.body.text;
  if (body) {
    const text = el("p", "bubble-text", body);
    text.dataset.testid = "message-text";
    node.append(text);
  }
  const footer = interactive.footer && interactive.footer.text;
  if (footer) node.append(el("p", "template-footer", footer));
  const action = interactive.action || {};
  const row = el("div", "template-buttons");
  for (const button of action.buttons || []) {
    const title = (button.reply && button.reply.title) || button.title || button.text;
    if (title) row.append(el("span", "template-button", title));
  }
  if (action.button && Array.isArray(action.sections)) {
    const list = el("span", "template-button");
    list.append(icon("list", "icon"), document.createTextNode(` ${action.button}`));
    row.append(list);
  }
  if (action.parameters && action.parameters.display_text) {
    row.append(el("span", "template-button", action.parameters.display_text));
  }
  if (row.childElementCount) node.append(row);
  return node;
}

/** What a message shows inside its bubble; rebuilt only when its content changes. */
export function contentKey(message) {
  const version = message.content_type === "template" ? state.templatesVersion : 0;
  return JSON.stringify([
    message.content_type, message.text, message.media, message.template, message.interactive,
    message.location, message.reply_id, version,
  ]);
}

export function paintContent(bubble, message) {
  const outbound = message.direction === "outbound";
  const type = message.content_type || "text";
  const media = Array.isArray(message.media) ? message.media : [];
  const parts = [];
  bubble.className = "bubble";
  if (type === "template" && message.template) {
    const { name, language } = message.template;
    const definition = findTemplate(name, language);
    const { values, list } = sentValues(definition, message.template);
    bubble.classList.add("bubble-card");
    parts.push(templateCard(name, language, definition, values, list));
  } else {
    if (type === "button" || type === "reply") {
      const tag = el("span", "reply-tag");
      tag.dataset.testid = "reply-tag";
      tag.title = message.reply_id ? `Button id: ${message.reply_id}` : "";
      tag.append(icon("reply", "icon"), document.createTextNode("Button reply"));
      parts.push(tag);
      bubble.classList.add("bubble-reply");
    }
    if (media.length) {
      const gallery = el("div", "attachments");
      for (const item of media) gallery.append(mediaNode(item, outbound));
      parts.push(gallery);
      bubble.classList.add("has-media");
      for (const item of media) {
        if (item.caption && item.caption !== message.text) parts.push(el("p", "bubble-caption", item.caption));
      }
    }
    let text = message.text;
    if (type === "location" && message.location) {
      parts.push(locationNode(message.location));
      bubble.classList.add("has-media");
      // Providers also give a location's name and address as its text: shown once, above.
      const { name, address } = message.location;
      if (text === [name, address].filter(Boolean).join(", ")) text = "";
    }
    if (type === "interactive" && message.interactive) {
      parts.push(interactiveNode(message.interactive));
    } else if (text) {
      const node = el("p", "bubble-text", text);
      node.dataset.testid = "message-text";
      parts.push(node);
    }
    if (type === "unsupported") {
      parts.push(el("p", "bubble-note", "This kind of message can't be shown here yet."));
    }
    if (!parts.length) parts.push(el("p", "bubble-note", "Empty message"));
  }
  bubble.replaceChildren(...parts);
}
