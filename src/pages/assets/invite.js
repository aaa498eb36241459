// @ts-check
/* global navigator, HTMLFormElement, HTMLInputElement, HTMLSelectElement, HTMLAnchorElement, HTMLButtonElement */
/**
 * The invite form: POST /fhir/R4/Project/{id}/$invite with the form's fields. A server error
 * (OperationOutcome) is shown under the field its `expression` names, anything else in the
 * summary at the top. Success replaces the form with what was done and, when no email was sent,
 * the activation link with a "Copy link" button.
 */
import { ApiError, messageOf, request, requireSignedIn, url, withAdvice } from './api.js';
import { byId, byIdAs, el, query, renderSessionBar, showAlert } from './dom.js';

const form = byIdAs('invite-form', HTMLFormElement);
const summary = byId('summary');
const role = byIdAs('role', HTMLSelectElement);
const policySelect = byIdAs('accessPolicy', HTMLSelectElement);
const projectScoped = byIdAs('projectScoped', HTMLInputElement);
const submit = /** @type {HTMLButtonElement} */ (form.querySelector('button[type="submit"]'));

/** Form controls by id: each shows the errors of the invite fields that map to it. */
const FIELDS = ['role', 'firstName', 'lastName', 'email', 'accessPolicy', 'sendEmail', 'admin', 'projectScoped', 'mfaRequired'];

/** The invite field (first part of an OperationOutcome expression) → the control showing it. */
const FIELD_OF = /** @type {Record<string, string>} */ ({
  resourceType: 'role',
  firstName: 'firstName',
  lastName: 'lastName',
  email: 'email',
  accessPolicy: 'accessPolicy',
  'membership.accessPolicy': 'accessPolicy',
  sendEmail: 'sendEmail',
  admin: 'admin',
  'membership.admin': 'admin',
  scope: 'projectScoped',
  mfaRequired: 'mfaRequired',
});

let projectId = '';
/** "Project Scoped" follows the role until the person changes it. */
let scopeTouched = false;

role.addEventListener('change', () => {
  if (!scopeTouched) {
    projectScoped.checked = role.value !== 'Practitioner';
  }
});
projectScoped.addEventListener('change', () => {
  scopeTouched = true;
});

/** The control of a field id (same id). @param {string} id */
function control(id) {
  return byId(id);
}

/**
 * The form control an expression names, if any: `email`, `body.email`, `accessPolicy.reference`,
 * `membership.admin`, `Parameters.parameter[...]`-free paths.
 * @param {string} expression
 */
function fieldFor(expression) {
  const path = expression.replace(/^(body|Parameters)\./, '');
  const parts = path.split(/[.[]/);
  return FIELD_OF[`${parts[0]}.${parts[1]}`] ?? FIELD_OF[parts[0]];
}

function clearErrors() {
  showAlert(summary, []);
  for (const id of FIELDS) {
    const error = byId(`${id}-error`);
    error.hidden = true;
    error.textContent = '';
    control(id).removeAttribute('aria-invalid');
  }
}

/** @param {string} id @param {string} text */
function fieldError(id, text) {
  const error = byId(`${id}-error`);
  error.textContent = error.textContent ? `${error.textContent} ${text}` : text;
  error.hidden = false;
  control(id).setAttribute('aria-invalid', 'true');
}

/**
 * Shows a refused invite: each problem next to its field, the rest in the summary.
 * @param {unknown} err
 */
function showErrors(err) {
  const problems = err instanceof ApiError ? err.problems : [];
  /** @type {string[]} */
  const general = [];
  /** @type {string[]} */
  const marked = [];
  for (const problem of problems) {
    const id = problem.expression.map(fieldFor).find(Boolean);
    if (id && err instanceof ApiError && err.status < 500) {
      fieldError(id, problem.text);
      marked.push(id);
    } else {
      general.push(problem.text);
    }
  }
  if (problems.length === 0) {
    general.push(messageOf(err));
  }
  const lead = marked.length > 0 ? ['The invitation was not sent: correct the fields marked below.'] : ['The invitation was not sent.'];
  showAlert(summary, [...lead, ...general]);
  const first = FIELDS.find((id) => marked.includes(id));
  (first ? control(first) : summary).focus();
}

/** The $invite input as plain JSON (the operation accepts the same fields as Parameters). */
function inviteBody() {
  const value = (/** @type {string} */ id) => byIdAs(id, HTMLInputElement).value.trim();
  const checked = (/** @type {string} */ id) => byIdAs(id, HTMLInputElement).checked;
  /** @type {Record<string, unknown>} */
  const body = {
    resourceType: role.value,
    firstName: value('firstName'),
    lastName: value('lastName'),
    sendEmail: checked('sendEmail'),
    admin: checked('admin'),
    scope: checked('projectScoped') ? 'project' : 'server',
    mfaRequired: checked('mfaRequired'),
  };
  const email = value('email');
  if (email) {
    body.email = email;
  }
  if (policySelect.value) {
    body.accessPolicy = { reference: `AccessPolicy/${policySelect.value}` };
  }
  return body;
}

/** @param {any} parameters @param {string} name */
function output(parameters, name) {
  return (parameters?.parameter ?? []).find((/** @type {any} */ p) => p.name === name);
}

/** @param {Record<string, unknown>} body @param {any} answer */
function showResult(body, answer) {
  const emailStatus = output(answer, 'emailStatus')?.valueCode;
  const activationUrl = output(answer, 'activationUrl')?.valueUri;
  const person = `${body.firstName} ${body.lastName}`;
  byId('result-title').textContent = emailStatus === 'queued' ? 'Invitation sent' : 'Invitation created';
  byId('result-person').textContent = body.email ? `${person} (${body.email})` : person;
  byId('result-role').textContent = `${body.resourceType}${body.admin ? ', project administrator' : ''}`;
  byId('result-email').textContent =
    emailStatus === 'queued' ? `Queued: the welcome email is on its way to ${body.email}.` : 'Not sent.';
  const linkBox = byId('link-box');
  if (typeof activationUrl === 'string') {
    byIdAs('activation-link', HTMLInputElement).value = activationUrl;
    linkBox.hidden = false;
  } else {
    linkBox.hidden = true;
  }
  form.hidden = true;
  const result = byId('result');
  result.hidden = false;
  result.focus();
}

byIdAs('copy-link', HTMLButtonElement).addEventListener('click', () => {
  const input = byIdAs('activation-link', HTMLInputElement);
  const status = byId('copy-status');
  const copied = () => {
    status.textContent = 'Link copied.';
  };
  input.select();
  if (navigator.clipboard) {
    navigator.clipboard.writeText(input.value).then(copied, () => {
      status.textContent = 'Copy did not work here: the link is selected, copy it with your keyboard.';
    });
  } else {
    status.textContent = 'The link is selected: copy it with your keyboard.';
  }
});

form.addEventListener('submit', (event) => {
  event.preventDefault();
  clearErrors();
  const body = inviteBody();
  submit.disabled = true;
  void (async () => {
    try {
      const answer = await request(`fhir/R4/Project/${encodeURIComponent(projectId)}/$invite`, { json: body });
      showResult(body, answer);
    } catch (err) {
      showErrors(err);
    } finally {
      submit.disabled = false;
    }
  })();
});

async function loadPolicies() {
  const bundle = await request(`fhir/R4/AccessPolicy?_project=${encodeURIComponent(projectId)}&_count=100&_sort=name`);
  const options = (bundle.entry ?? []).map((/** @type {any} */ e) => el('option', { value: String(e.resource.id), text: e.resource.name || `AccessPolicy/${e.resource.id}` }));
  policySelect.append(...options);
}

async function start() {
  const line = byId('project-line');
  try {
    const me = await requireSignedIn();
    renderSessionBar(me);
    projectId = query('project') || String(me.project?.id ?? '');
    const users = `${url('admin/project')}?project=${encodeURIComponent(projectId)}#users`;
    byIdAs('back-link', HTMLAnchorElement).href = users;
    byIdAs('users-link', HTMLAnchorElement).href = users;
    byIdAs('again-link', HTMLAnchorElement).href = `${url('admin/invite')}?project=${encodeURIComponent(projectId)}`;
    if (!me.membership?.admin) {
      throw new ApiError(403, [{ text: 'Only administrators of a project can invite people into it.', expression: [] }], undefined);
    }
    const details = await request(`admin/projects/${encodeURIComponent(projectId)}?_count=1`);
    line.replaceChildren('Into the project ', el('strong', { text: String(details.project?.name ?? projectId) }), '.');
    await loadPolicies();
  } catch (err) {
    line.textContent = '';
    const refused = err instanceof ApiError && err.status === 403;
    showAlert(summary, refused ? withAdvice(messageOf(err), 'Ask an administrator of the project to invite people.') : messageOf(err));
    submit.disabled = true;
  }
}
void start();
