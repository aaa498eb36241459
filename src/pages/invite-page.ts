import { renderPage } from './layout';

/** The form's fields: id, label and the invite field its server errors name (the OperationOutcome `expression`). */
const TEXT_FIELDS = [
  { id: 'firstName', label: 'First Name', type: 'text', autocomplete: 'off' },
  { id: 'lastName', label: 'Last Name', type: 'text', autocomplete: 'off' },
  { id: 'email', label: 'Email', type: 'email', autocomplete: 'off' },
];

const CHECKBOXES = [
  { id: 'sendEmail', label: 'Send email', checked: true, hint: 'Mail the person a link to set their password. Unchecked: you get the link to pass on yourself.' },
  { id: 'admin', label: 'Admin', checked: false, hint: 'The person may administer this project (members, policies, invitations).' },
  { id: 'projectScoped', label: 'Project Scoped', checked: false, hint: 'The account exists only in this project. Unchecked: one account for the whole server, which can later join other projects.' },
  { id: 'mfaRequired', label: 'MFA Required', checked: false, hint: 'The person must set up an authenticator app at first sign-in and enter a code at every sign-in.' },
];

function errorSlot(id: string): string {
  return `<p id="${id}-error" class="field-error" hidden></p>`;
}

function textField(f: (typeof TEXT_FIELDS)[number]): string {
  return `
  <div class="field">
    <label for="${f.id}">${f.label}</label>
    <input id="${f.id}" name="${f.id}" type="${f.type}" autocomplete="${f.autocomplete}" maxlength="${f.type === 'email' ? 254 : 100}" required aria-required="true" aria-describedby="${f.id}-error">
    ${errorSlot(f.id)}
  </div>`;
}

function checkbox(f: (typeof CHECKBOXES)[number]): string {
  return `
    <div class="check">
      <input id="${f.id}" name="${f.id}" type="checkbox"${f.checked ? ' checked' : ''} aria-describedby="${f.id}-hint ${f.id}-error">
      <label for="${f.id}">${f.label}</label>
      <p id="${f.id}-hint" class="hint">${f.hint}</p>
      ${errorSlot(f.id)}
    </div>`;
}

/**
 * GET /admin/invite: the invite form (labels as the contract names them), posted by
 * assets/invite.js to POST /fhir/R4/Project/{id}/$invite. Server errors appear under the field
 * their `expression` names, others in the summary at the top; the result replaces the form.
 */
const MAIN = `
<p><a id="back-link" href="">Back to Users</a></p>
<h1>Invite new user</h1>
<p id="project-line" class="notice" role="status">Loading…</p>
<div id="summary" class="alert" role="alert" tabindex="-1" hidden></div>

<form id="invite-form" class="stack" method="post" novalidate>
  <div class="field">
    <label for="role">Role</label>
    <select id="role" name="resourceType" aria-describedby="role-error">
      <option value="Practitioner" selected>Practitioner</option>
      <option value="Patient">Patient</option>
      <option value="RelatedPerson">RelatedPerson</option>
    </select>
    ${errorSlot('role')}
  </div>
  ${TEXT_FIELDS.map(textField).join('')}
  <div class="field">
    <label for="accessPolicy">Access Policy</label>
    <select id="accessPolicy" name="accessPolicy" aria-describedby="accessPolicy-hint accessPolicy-error">
      <option value="" selected>None</option>
    </select>
    <p id="accessPolicy-hint" class="hint">Optional. A patient invited without one gets the project’s default patient access policy, if the project has one.</p>
    ${errorSlot('accessPolicy')}
  </div>
  <fieldset class="checks">
    <legend>Options</legend>
    ${CHECKBOXES.map(checkbox).join('')}
  </fieldset>
  <button type="submit" class="primary">Invite</button>
</form>

<section id="result" class="card result" hidden tabindex="-1" aria-labelledby="result-title">
  <h2 id="result-title">Invitation sent</h2>
  <dl class="details">
    <dt>Person</dt><dd id="result-person"></dd>
    <dt>Role</dt><dd id="result-role"></dd>
    <dt>Email</dt><dd id="result-email"></dd>
  </dl>
  <div id="link-box" class="link-box stack" hidden>
    <label for="activation-link">Activation link</label>
    <p class="hint" id="activation-hint">Give this link to the person yourself: it sets their password, works once, and expires. Anyone who has it can take the account.</p>
    <input id="activation-link" type="text" readonly aria-describedby="activation-hint">
    <button type="button" id="copy-link">Copy link</button>
    <p id="copy-status" class="notice" role="status"></p>
  </div>
  <p class="actions"><a id="again-link" href="">Invite another person</a> <a id="users-link" href="">Back to Users</a></p>
</section>`;

export function renderInvitePage(basePath: string): string {
  return renderPage({ title: 'Invite new user', script: 'invite.js', basePath, main: MAIN });
}
