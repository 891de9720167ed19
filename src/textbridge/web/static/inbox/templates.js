/* textbridge inbox: WhatsApp templates: loading, placeholders, template cards. */

import { request } from "./api.js";
import { renderComposer, send } from "./composer.js";
import { el, icon, KINDS, safeUrl } from "./dom.js";
import { $, state } from "./state.js";
import { renderThread } from "./thread.js";

/* ----------------------------------------------------------------- templates */

export const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;

export async function loadTemplates() {
  state.templates = (await request("/api/v1/templates")) || [];
  state.templatesLoaded = true;
  state.templatesVersion += 1;
  if (state.selected) {
    renderComposer();
    renderThread();
  }
}

export function findTemplate(name, language) {
  return state.templates.find((t) => t.name === name && t.language === language) || null;
}

export function componentOf(definition, type) {
  return (definition.components || []).find((c) => String(c.type).toUpperCase() === type) || null;
}

export function placeholders(text) {
  return Array.from(String(text || "").matchAll(PLACEHOLDER), (match) => match[1]);
}

/** Example values from the definition, shown as placeholders in the parameter inputs. */
export function exampleValues(definition) {
  const examples = {};
  const body = componentOf(definition, "BODY");
  const example = (body && body.example) || {};
  const positional = (example.body_text && example.body_text[0]) || [];
  placeholders(body && body.text).forEach((name, index) => {
    if (positional[index] !== undefined) examples[name] = String(positional[index]);
  });
  for (const named of example.body_text_named_params || []) {
    if (named && named.param_name) examples[named.param_name] = String(named.example ?? "");
  }
  const header = componentOf(definition, "HEADER");
  if (header && header.example) {
    const text = header.example.header_text;
    placeholders(header.text).forEach((name, index) => {
      if (text && text[index] !== undefined) examples[name] = String(text[index]);
    });
  }
  return examples;
}

export function parameterLabel(name) {
  if (name === "header") return "Header media URL";
  const button = /^button_(\d+)$/.exec(name);
  if (button) return `Button ${Number(button[1]) + 1} link`;
  return `{{${name}}}`;
}

/** Text with its {{placeholders}} filled in (values highlighted, missing ones marked). */
export function filledText(className, text, values) {
  const node = el("p", className);
  let last = 0;
  for (const match of String(text).matchAll(PLACEHOLDER)) {
    node.append(document.createTextNode(text.slice(last, match.index)));
    const value = values[match[1]];
    if (value) {
      node.append(el("span", "template-value", value));
    } else {
      node.append(el("span", "template-slot", match[0]));
    }
    last = match.index + match[0].length;
  }
  node.append(document.createTextNode(String(text).slice(last)));
  return node;
}

/** A template as WhatsApp shows it: header, body, footer, buttons; values filled in. */
export function templateCard(name, language, definition, values, fallbackValues = []) {
  const card = el("div", "template-card");
  card.dataset.testid = "template-card";
  card.dataset.template = name;
  const tag = el("p", "template-tag");
  tag.append(icon("template", "template-tag-icon"), el("span", null, "Template"), el("strong", "template-name", name));
  if (language) tag.append(el("span", "template-language", language));
  card.append(tag);
  if (!definition) {
    const summary = fallbackValues.length ? fallbackValues.join(" · ") : "No parameters";
    card.append(el("p", "template-text template-unknown", summary));
    return card;
  }
  const header = componentOf(definition, "HEADER");
  if (header) {
    const format = String(header.format || "TEXT").toUpperCase();
    if (format === "TEXT") {
      card.append(filledText("template-header", header.text || "", values));
    } else {
      const kind = { IMAGE: "image", VIDEO: "video", DOCUMENT: "file" }[format] || "file";
      const media = el("p", "template-header-media");
      const url = values.header ? safeUrl(values.header) : null;
      media.append(icon(kind, "icon"), el("span", null, url ? `${KINDS[kind]} · ${url.hostname}` : `${KINDS[kind]} header`));
      card.append(media);
    }
  }
  const body = componentOf(definition, "BODY");
  if (body) card.append(filledText("template-text", body.text || "", values));
  const footer = componentOf(definition, "FOOTER");
  if (footer && footer.text) card.append(el("p", "template-footer", footer.text));
  const buttons = componentOf(definition, "BUTTONS");
  if (buttons && Array.isArray(buttons.buttons) && buttons.buttons.length) {
    const row = el("div", "template-buttons");
    for (const button of buttons.buttons) row.append(el("span", "template-button", button.text || button.type));
    card.append(row);
  }
  return card;
}

/** The values a sent template carried, by parameter name (from Meta's send-time shape). */
export function sentValues(definition, sent) {
  const values = {};
  const list = [];
  const components = Array.isArray(sent.components) ? sent.components : [];
  const parametersOf = (type) => {
    const found = components.find((c) => String(c.type).toLowerCase() === type);
    return (found && Array.isArray(found.parameters) && found.parameters) || [];
  };
  const valueOf = (parameter) => {
    if (parameter.text !== undefined) return String(parameter.text);
    const media = parameter[parameter.type];
    return media && media.link ? String(media.link) : "";
  };
  const assign = (component, type) => {
    const names = component ? placeholders(component.text) : [];
    parametersOf(type).forEach((parameter, index) => {
      const value = valueOf(parameter);
      list.push(value);
      const name = parameter.parameter_name || names[index];
      if (name) values[name] = value;
    });
  };
  const header = definition ? componentOf(definition, "HEADER") : null;
  if (header && String(header.format || "TEXT").toUpperCase() !== "TEXT") {
    const first = parametersOf("header")[0];
    if (first) {
      values.header = valueOf(first);
      list.push(values.header);
    }
  } else {
    assign(header, "header");
  }
  assign(definition ? componentOf(definition, "BODY") : null, "body");
  for (const component of components) {
    if (String(component.type).toLowerCase() === "button" && Array.isArray(component.parameters) && component.parameters[0]) {
      values[`button_${component.index}`] = valueOf(component.parameters[0]);
      list.push(values[`button_${component.index}`]);
    }
  }
  return { values, list };
}
