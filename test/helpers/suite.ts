import { createTestApp, type TestApp, type TestAppOptions } from './app';
import { signIn, type SignedIn } from './auth';
import { startTestSmtp, type TestSmtp } from './smtp';

/**
 * Suite set-up shared by most suites: call these at the top of a `describe`. Each registers its
 * own beforeAll/afterAll and answers a handle whose fields exist once its beforeAll has run, so
 * read them inside hooks and tests (reading one earlier throws, naming the helper).
 */

export interface SuiteAppOptions extends TestAppOptions {
  /** Start a real SMTP server first and point the app at it (`SMTP_URL`); see `t.smtp`. */
  smtp?: boolean;
}

export interface SuiteApp extends TestApp {
  /** The suite's SMTP server (only with `smtp: true`). */
  readonly smtp: TestSmtp;
}

function ready<T>(value: T | undefined, what: string): T {
  if (value === undefined) {
    throw new Error(`${what} is built in beforeAll: use it inside hooks and tests`);
  }
  return value;
}

/**
 * One app (own database) for the suite: built in beforeAll, closed in afterAll (then its SMTP
 * server stopped). `options` may be a function, called in beforeAll, for values that only exist
 * by then (a log stream, a port).
 */
export function useTestApp(options: SuiteAppOptions | (() => SuiteAppOptions | Promise<SuiteAppOptions>) = {}): SuiteApp {
  let app: TestApp | undefined;
  let smtp: TestSmtp | undefined;
  beforeAll(async () => {
    const { smtp: withSmtp, ...rest } = typeof options === 'function' ? await options() : options;
    if (withSmtp) {
      smtp = await startTestSmtp();
      rest.env = { SMTP_URL: smtp.url, ...rest.env };
    }
    app = await createTestApp(rest);
  });
  afterAll(async () => {
    await app?.close();
    await smtp?.stop();
  });
  return {
    get app() {
      return ready(app, 'useTestApp').app;
    },
    get config() {
      return ready(app, 'useTestApp').config;
    },
    get smtp() {
      return ready(smtp, 'useTestApp({ smtp: true })');
    },
    close: () => ready(app, 'useTestApp').close(),
  };
}

/** Signs in once for the suite (the super administrator unless told otherwise), after the app exists. */
export function useSignIn(t: TestApp, email?: string, password?: string, projectId?: string): SignedIn {
  let session: SignedIn | undefined;
  beforeAll(async () => {
    session = await signIn(t.app, email, password, projectId);
  });
  const get = (): SignedIn => ready(session, 'useSignIn');
  return {
    get accessToken() {
      return get().accessToken;
    },
    get refreshToken() {
      return get().refreshToken;
    },
    get project() {
      return get().project;
    },
    get profile() {
      return get().profile;
    },
    get headers() {
      return get().headers;
    },
  };
}
