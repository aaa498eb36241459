// @ts-check
/* global document, location, window, HTMLButtonElement, HTMLFormElement, HTMLInputElement, HTMLAnchorElement */
/**
 * The project administration page: tabs (Details, Users, Access Policies, and Projects for the
 * super administrator). Users come from GET /admin/projects/{id} 50 at a time; policies and
 * projects from FHIR searches; "Resend invite" and "Revoke" call the membership's operations.
 */
import { ApiError, messageOf, request, requireSignedIn, url, withAdvice } from './api.js';
import { byId, byIdAs, el, query, renderSessionBar, showAlert } from './dom.js';

const PAGE_SIZE = 50;
const alertBox = byId('alert');
const projectNote = byId('project-note');
const usersStatus = byId('users-status');
const membersBody = byId('members');
const prevButton = byIdAs('page-prev', HTMLButtonElement);
const nextButton = byIdAs('page-next', HTMLButtonElement);
const tabs = /** @type {HTMLButtonElement[]} */ ([...document.querySelectorAll('[role="tab"]')]);

/** @type {{ projectId: string, offset: number, total: number, me: any, loaded: Set<string> }} */
const state = { projectId: '', offset: 0, total: 0, me: undefined, loaded: new Set() };

/** @param {string} projectId */
function projectQuery(projectId) {
  return `?project=${encodeURIComponent(projectId)}`;
}

// Tabs: click or arrow keys select; the selected one is remembered in the URL's #fragment.

/** @param {HTMLButtonElement} tab @param {boolean} [focus] */
function select(tab, focus = false) {
  for (const other of tabs) {
    const selected = other === tab;
    other.setAttribute('aria-selected', String(selected));
    other.tabIndex = selected ? 0 : -1;
    byId(String(other.getAttribute('aria-controls'))).hidden = !selected;
  }
  if (focus) {
    tab.focus();
  }
  const name = tab.id.replace(/^tab-/, '');
  if (location.hash !== `#${name}`) {
    window.history.replaceState(null, '', `#${name}`);
  }
  void loadPanel(name);
}

for (const tab of tabs) {
  tab.addEventListener('click', () => select(tab));
  tab.addEventListener('keydown', (/** @type {KeyboardEvent} */ event) => {
    const visible = tabs.filter((t) => !t.hidden);
    const index = visible.indexOf(tab);
    const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: visible.length - 1 };
    if (event.key in moves) {
      event.preventDefault();
      const target = (moves[/** @type {keyof typeof moves} */ (event.key)] + visible.length) % visible.length;
      select(visible[target], true);
    }
  });
}

/** The tab the URL's #fragment names, if any. */
function tabOfHash() {
  return tabs.find((t) => `#${t.id.replace(/^tab-/, '')}` === location.hash && !t.hidden);
}

window.addEventListener('hashchange', () => {
  const tab = tabOfHash();
  if (tab && state.projectId && tab.getAttribute('aria-selected') !== 'true') {
    select(tab);
  }
});

/** @param {string} name */
async function loadPanel(name) {
  if (state.loaded.has(name) || !state.projectId) {
    return;
  }
  state.loaded.add(name);
  try {
    if (name === 'policies') {
      await loadPolicies();
    } else if (name === 'projects') {
      await loadProjects();
    }
  } catch (err) {
    state.loaded.delete(name);
    showAlert(alertBox, messageOf(err));
  }
}

// Users

/** @param {string} label @param {string | Node} content @param {string} [className] */
function cell(label, content, className) {
  return el('td', { 'data-label': label, class: className }, content);
}

/** @param {string} text */
function capitalized(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}

/** @param {any} member */
function mfaText(member) {
  if (member.mfaEnrolled) {
    return 'Enrolled';
  }
  return member.mfaRequired ? 'Required, not enrolled yet' : 'Not enrolled';
}

/** @param {any} member */
function roleText(member) {
  const type = member.userType === 'ClientApplication' ? 'Client application' : String(member.profileType ?? '');
  return member.role === 'owner' ? `${type} (owner)` : type;
}

/**
 * Runs a membership operation ($resend-invite, $revoke-invite), then shows the page again.
 * @param {string} membershipId @param {string} operation @param {string} done
 */
async function membershipOperation(membershipId, operation, done) {
  try {
    await request(`fhir/R4/ProjectMembership/${encodeURIComponent(membershipId)}/$${operation}`, { json: { resourceType: 'Parameters', parameter: [] } });
    usersStatus.textContent = done;
    await loadMembers(state.offset);
  } catch (err) {
    showAlert(alertBox, messageOf(err));
  }
}

/** @param {any} member @param {string} nameId */
function actionsOf(member, nameId) {
  const actions = Array.isArray(member.inviteActions) ? member.inviteActions : [];
  const buttons = [];
  if (actions.includes('resend')) {
    const resend = el('button', { type: 'button', 'aria-describedby': nameId, text: 'Resend invite' });
    resend.addEventListener('click', () => void membershipOperation(member.membershipId, 'resend-invite', `A new invitation was sent to ${member.email ?? member.name}.`));
    buttons.push(resend);
  }
  if (actions.includes('revoke')) {
    const revoke = el('button', { type: 'button', 'aria-describedby': nameId, text: 'Revoke' });
    revoke.addEventListener('click', () => {
      if (window.confirm(`Revoke the invitation of ${member.name || member.email}? Their link stops working.`)) {
        void membershipOperation(member.membershipId, 'revoke-invite', `The invitation of ${member.name || member.email} was revoked.`);
      }
    });
    buttons.push(revoke);
  }
  return buttons.length > 0 ? el('td', { class: 'actions', 'data-label': 'Actions' }, ...buttons) : cell('Actions', '—');
}

/** @param {any} member @param {number} index */
function memberRow(member, index) {
  const nameId = `member-${index}`;
  const name = el('span', { id: nameId, text: member.name || '(no name)' });
  return el(
    'tr',
    {},
    cell('Name', member.active === false ? el('span', {}, name, ' (inactive)') : name, 'name'),
    cell('Email', member.email ?? '—', 'email'),
    cell('Role', roleText(member)),
    cell('Admin', member.admin ? 'Yes' : 'No'),
    cell('Account', member.accountScope === 'project' ? 'Project' : member.accountScope === 'server' ? 'Server' : '—'),
    cell('MFA', mfaText(member)),
    cell('Invite status', member.inviteStatus ? capitalized(member.inviteStatus) : '—'),
    actionsOf(member, nameId),
  );
}

/** @param {number} offset */
async function loadMembers(offset) {
  const answer = await request(`admin/projects/${encodeURIComponent(state.projectId)}?_count=${PAGE_SIZE}&_offset=${offset}`);
  const members = Array.isArray(answer.members) ? answer.members : [];
  state.offset = offset;
  state.total = Number(answer.total ?? members.length);
  showProject(answer.project);
  membersBody.replaceChildren(...members.map(memberRow));
  const first = members.length > 0 ? offset + 1 : 0;
  byId('page-info').textContent = `Members ${first}–${offset + members.length} of ${state.total}`;
  prevButton.disabled = offset === 0;
  nextButton.disabled = offset + members.length >= state.total;
  byId('detail-members').textContent = String(state.total);
  return answer;
}

prevButton.addEventListener('click', () => void loadMembers(Math.max(0, state.offset - PAGE_SIZE)).catch((err) => showAlert(alertBox, messageOf(err))));
nextButton.addEventListener('click', () => void loadMembers(state.offset + PAGE_SIZE).catch((err) => showAlert(alertBox, messageOf(err))));

// Details, policies, projects

/** @param {any} project */
function showProject(project) {
  const name = String(project?.name || `Project ${state.projectId}`);
  byId('project-name').textContent = name;
  document.title = `${name} · Project administration`;
  byId('detail-name').textContent = name;
  byId('detail-id').textContent = String(project?.id ?? state.projectId);
  projectNote.textContent = '';
}

async function loadPolicies() {
  const status = byId('policies-status');
  status.textContent = 'Loading…';
  const bundle = await request(`fhir/R4/AccessPolicy?_project=${encodeURIComponent(state.projectId)}&_count=100&_sort=name`);
  const policies = (bundle.entry ?? []).map((/** @type {any} */ e) => e.resource);
  byId('policies').replaceChildren(...policies.map((/** @type {any} */ p) => el('li', {}, el('strong', { text: p.name || '(no name)' }), ` — AccessPolicy/${p.id}`)));
  status.textContent = policies.length === 0 ? 'This project has no access policies yet.' : `${policies.length} access ${policies.length === 1 ? 'policy' : 'policies'}.`;
}

async function loadProjects() {
  const status = byId('projects-status');
  status.textContent = 'Loading…';
  const bundle = await request('fhir/R4/Project?_count=100&_sort=name');
  const projects = (bundle.entry ?? []).map((/** @type {any} */ e) => e.resource);
  byId('projects').replaceChildren(
    ...projects.map((/** @type {any} */ p) =>
      el('li', {}, el('a', { href: `${url('admin/project')}${projectQuery(p.id)}`, text: p.name || p.id }), p.id === state.projectId ? ' (open)' : ''),
    ),
  );
  status.textContent = `${projects.length} ${projects.length === 1 ? 'project' : 'projects'}. Open one to see its users.`;
}

byIdAs('project-form', HTMLFormElement).addEventListener('submit', (event) => {
  event.preventDefault();
  const input = byIdAs('new-project-name', HTMLInputElement);
  const error = byId('new-project-error');
  const name = input.value.trim();
  const invalid = (/** @type {string} */ message) => {
    error.textContent = message;
    error.hidden = false;
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  };
  if (!name) {
    invalid('Enter a name for the project.');
    return;
  }
  error.hidden = true;
  input.removeAttribute('aria-invalid');
  void (async () => {
    try {
      const project = await request('fhir/R4/Project', { json: { resourceType: 'Project', name } });
      location.assign(`${url('admin/project')}${projectQuery(project.id)}#users`);
    } catch (err) {
      invalid(messageOf(err));
    }
  })();
});

async function start() {
  try {
    const me = await requireSignedIn();
    state.me = me;
    renderSessionBar(me);
    if (!me.membership?.admin) {
      location.replace(url('account'));
      return;
    }
    state.projectId = query('project') || String(me.project?.id ?? '');
    const superAdmin = me.project?.superAdmin === true;
    byId('tab-projects').hidden = !superAdmin;
    byId('detail-you').textContent = superAdmin ? 'Super administrator' : 'Project administrator';
    byIdAs('invite-link', HTMLAnchorElement).href = `${url('admin/invite')}${projectQuery(state.projectId)}`;
    await loadMembers(0);
    const wanted = tabOfHash();
    if (wanted) {
      select(wanted);
    }
  } catch (err) {
    projectNote.textContent = '';
    const forbidden = err instanceof ApiError && (err.status === 403 || err.status === 404);
    showAlert(alertBox, forbidden ? withAdvice(messageOf(err), 'Open a project you administer.') : messageOf(err));
  }
}

void start();
