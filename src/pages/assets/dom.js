// @ts-check
/* global document, location */
/**
 * Small DOM helpers the pages share, and the top bar (who is signed in, where, "Sign out").
 */
import { signOut } from './api.js';

/**
 * @param {string} id
 * @returns {HTMLElement}
 */
export function byId(id) {
  const found = document.getElementById(id);
  if (!found) {
    throw new Error(`#${id} is missing from the page`);
  }
  return found;
}

/**
 * @template {HTMLElement} T
 * @param {string} id
 * @param {new () => T} type
 * @returns {T}
 */
export function byIdAs(id, type) {
  const found = byId(id);
  if (!(found instanceof type)) {
    throw new Error(`#${id} is not a ${type.name}`);
  }
  return found;
}

/**
 * Creates an element with attributes (strings; `text` sets textContent) and children.
 * @param {string} tag
 * @param {Record<string, string | undefined>} [attrs]
 * @param {Array<Node | string>} children
 * @returns {HTMLElement}
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined) {
      continue;
    }
    if (name === 'text') {
      node.textContent = value;
    } else {
      node.setAttribute(name, value);
    }
  }
  node.append(...children);
  return node;
}

/**
 * A person's name from a FHIR HumanName list.
 * @param {any} resource
 * @returns {string}
 */
export function displayName(resource) {
  const name = Array.isArray(resource?.name) ? resource.name[0] : undefined;
  if (name?.text) {
    return String(name.text);
  }
  const parts = [...(Array.isArray(name?.given) ? name.given : []), name?.family].filter(Boolean);
  return parts.length > 0 ? parts.join(' ') : '';
}

/**
 * Fills the top bar: who is signed in, where, and "Sign out".
 * @param {any} me the /auth/me answer
 */
export function renderSessionBar(me) {
  const bar = byId('session');
  const who = displayName(me.profile) || me.user?.email || 'Signed in';
  const button = el('button', { type: 'button', text: 'Sign out' });
  button.addEventListener('click', () => {
    button.setAttribute('disabled', '');
    void signOut();
  });
  bar.replaceChildren(el('span', { class: 'who', text: `${who} · ${me.project?.name ?? ''}` }), button);
}

/**
 * Shows a message (or a list of them) in an alert box; hides it when empty.
 * @param {HTMLElement} box
 * @param {string | string[]} messages
 */
export function showAlert(box, messages) {
  const list = (Array.isArray(messages) ? messages : [messages]).filter(Boolean);
  if (list.length === 0) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  box.replaceChildren(list.length === 1 ? list[0] : el('ul', {}, ...list.map((m) => el('li', { text: m }))));
  box.hidden = false;
}

/** Whether the page was opened with this query parameter. @param {string} name */
export function query(name) {
  return new URLSearchParams(location.search).get(name);
}
