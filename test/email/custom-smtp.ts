import { startTestSmtp, type TestSmtp } from '../helpers/smtp';

/** The shared test SMTP server (refuse recipients, hold the DATA reply); the names its first suites import. */
export type CustomSmtp = TestSmtp;
export const startCustomSmtp = startTestSmtp;
