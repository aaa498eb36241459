import { escapeHtml } from '../html';

/**
 * The HTML shell every page shares: one stylesheet and one ES module from /assets (no inline
 * script or style, see security-headers.ts), a skip link, a top bar whose session part the
 * page's script fills in once it knows who is signed in, and the page's own content. Values
 * placed in the page are escaped with the one `escapeHtml`; page bodies are static markup.
 */

export const PRODUCT_NAME = 'FHIR Invite Server';

export interface PageInput {
  /** The page title (before " · FHIR Invite Server"). */
  title: string;
  /** The page's module in /assets, e.g. `signin.js`. */
  script: string;
  /** The browser-facing path prefix of the server (the path of BASE_URL), ending with '/'. */
  basePath: string;
  /** Static markup of the page's main content. */
  main: string;
  /** A class on <main> (layout width). */
  width?: 'narrow' | 'wide';
}

export function renderPage(input: PageInput): string {
  const base = escapeHtml(input.basePath);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex">
<meta name="base-path" content="${base}">
<title>${escapeHtml(input.title)} · ${PRODUCT_NAME}</title>
<link rel="stylesheet" href="${base}assets/app.css">
<script type="module" src="${base}assets/${escapeHtml(input.script)}"></script>
</head>
<body>
<a class="skip-link" href="#main">Skip to content</a>
<header class="topbar">
<a class="brand" href="${base}signin">${PRODUCT_NAME}</a>
<div id="session" class="session"></div>
</header>
<main id="main" class="${input.width === 'wide' ? 'wide' : 'narrow'}" tabindex="-1">
${input.main}
</main>
</body>
</html>
`;
}
