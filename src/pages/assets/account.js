// @ts-check
/**
 * The page of a signed-in member who is not an administrator: who they are, in which project,
 * as which profile. "Sign out" (top bar) ends the sign-in on the server.
 */
import { messageOf, requireSignedIn } from './api.js';
import { byId, displayName, renderSessionBar, showAlert } from './dom.js';

async function start() {
  try {
    const me = await requireSignedIn();
    renderSessionBar(me);
    const profileType = String(me.profile?.resourceType ?? me.membership?.profile?.reference?.split('/')[0] ?? '');
    byId('who').textContent = displayName(me.profile) || me.user?.email || '';
    byId('email').textContent = me.user?.email ?? '';
    byId('project').textContent = me.project?.name ?? me.project?.id ?? '';
    byId('profile-type').textContent = profileType + (me.membership?.admin ? ' (project administrator)' : '');
    byId('details').hidden = false;
    byId('loading').textContent = '';
  } catch (err) {
    byId('loading').textContent = '';
    showAlert(byId('alert'), messageOf(err));
  }
}

void start();
