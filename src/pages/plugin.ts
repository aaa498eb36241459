import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../app-context';
import { renderAccountPage } from './account-page';
import { loadAssets, sendAsset } from './assets';
import { renderInvitePage } from './invite-page';
import { renderProjectPage } from './project-page';
import { sendPage } from './security-headers';
import { renderSigninPage } from './signin-page';

/**
 * The browser pages: /signin, /account, /admin/project, /admin/invite and their /assets.
 * Each page is the same HTML for everyone (no session on the server side: the tokens live in the
 * tab's sessionStorage); its script calls the public API like any client. The activation page
 * (/setpassword/...) lives with the activation routes.
 */
export const pagesPlugin: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  const basePath = new URL(ctx.config.baseUrl).pathname;
  const assets = loadAssets();
  const pages: Record<string, string> = {
    '/signin': renderSigninPage(basePath),
    '/account': renderAccountPage(basePath),
    '/admin/project': renderProjectPage(basePath),
    '/admin/invite': renderInvitePage(basePath),
  };
  const hidden = { schema: { hide: true } };

  for (const [path, html] of Object.entries(pages)) {
    app.get(path, hidden, async (_request, reply) => sendPage(reply, html));
  }
  app.get('/', hidden, async (_request, reply) => reply.redirect(`${basePath}signin`, 302));
  app.get<{ Params: { name: string } }>(
    '/assets/:name',
    { schema: { hide: true, params: { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 100 } } } } },
    async (request, reply) => sendAsset(assets, request.params.name, request, reply),
  );
};
