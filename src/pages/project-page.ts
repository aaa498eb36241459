import { renderPage } from './layout';

/**
 * GET /admin/project: the current project (or `?project={id}` for a super administrator) in
 * tabs: Details, Users (every member, 50 a page, "Invite new user" at the bottom), Access
 * Policies, and for the super administrator Projects (open or create one). The data comes from
 * the public API (GET /admin/projects/{id}, FHIR searches) through assets/project.js.
 */
const MAIN = `
<h1 id="project-name">Project</h1>
<p id="project-note" class="notice" role="status">Loading…</p>
<div id="alert" class="alert" role="alert" hidden></div>

<div class="tabs" role="tablist" aria-label="Project sections">
  <button type="button" role="tab" id="tab-details" aria-controls="panel-details" aria-selected="true">Details</button>
  <button type="button" role="tab" id="tab-users" aria-controls="panel-users" aria-selected="false" tabindex="-1">Users</button>
  <button type="button" role="tab" id="tab-policies" aria-controls="panel-policies" aria-selected="false" tabindex="-1">Access Policies</button>
  <button type="button" role="tab" id="tab-projects" aria-controls="panel-projects" aria-selected="false" tabindex="-1" hidden>Projects</button>
</div>

<section role="tabpanel" id="panel-details" aria-labelledby="tab-details" tabindex="0" class="panel">
  <dl class="details">
    <dt>Name</dt><dd id="detail-name"></dd>
    <dt>Id</dt><dd><code id="detail-id"></code></dd>
    <dt>Members</dt><dd id="detail-members"></dd>
    <dt>You</dt><dd id="detail-you"></dd>
  </dl>
</section>

<section role="tabpanel" id="panel-users" aria-labelledby="tab-users" tabindex="0" class="panel" hidden>
  <p id="users-status" class="notice" role="status"></p>
  <table class="members">
    <caption class="visually-hidden">Members of the project</caption>
    <thead>
      <tr>
        <th scope="col">Name</th>
        <th scope="col">Email</th>
        <th scope="col">Role</th>
        <th scope="col">Admin</th>
        <th scope="col">Account</th>
        <th scope="col">MFA</th>
        <th scope="col">Invite status</th>
        <th scope="col">Actions</th>
      </tr>
    </thead>
    <tbody id="members"></tbody>
  </table>
  <nav class="pager" aria-label="Pages of members">
    <button type="button" id="page-prev">Previous page</button>
    <span id="page-info"></span>
    <button type="button" id="page-next">Next page</button>
  </nav>
  <p class="bottom-action"><a id="invite-link" class="button primary" href="">Invite new user</a></p>
</section>

<section role="tabpanel" id="panel-policies" aria-labelledby="tab-policies" tabindex="0" class="panel" hidden>
  <p id="policies-status" class="notice" role="status"></p>
  <ul id="policies" class="plain-list"></ul>
  <p class="hint">Access policies are FHIR AccessPolicy resources of this project (<code>/fhir/R4/AccessPolicy</code>); the invite form offers them.</p>
</section>

<section role="tabpanel" id="panel-projects" aria-labelledby="tab-projects" tabindex="0" class="panel" hidden>
  <p id="projects-status" class="notice" role="status"></p>
  <ul id="projects" class="plain-list"></ul>
  <form id="project-form" class="inline-form" method="post" novalidate>
    <div class="field">
      <label for="new-project-name">Project name</label>
      <input id="new-project-name" name="name" type="text" maxlength="200" required aria-required="true" aria-describedby="new-project-error">
      <p id="new-project-error" class="field-error" hidden></p>
    </div>
    <button type="submit">Create project</button>
  </form>
</section>`;

export function renderProjectPage(basePath: string): string {
  return renderPage({ title: 'Project administration', script: 'project.js', basePath, main: MAIN, width: 'wide' });
}
