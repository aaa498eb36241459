// See bench/mixed.mjs. Input: one JSON argument; output: autocannon's JSON result. The non-2xx of
// the two requests answered 401/404 on purpose are not counted as failures by the caller.
import autocannon from 'autocannon';

const { base, admin, member, patient, amount, connections } = JSON.parse(process.argv[2]);
const as = (token) => ({ authorization: `Bearer ${token}` });
let n = 0;
const requests = [
  { path: `/fhir/R4/Patient/${patient}`, headers: as(admin) },
  { path: `/fhir/R4/Patient/${patient}`, headers: as(member) },
  { path: '/fhir/R4/Patient?name=Quill&_count=20', headers: as(admin) },
  { path: '/auth/me', headers: as(member) },
  { path: `/fhir/R4/Patient/${patient}/_history`, headers: as(admin) },
  { path: '/fhir/R4/metadata', headers: {} },
  { path: `/fhir/R4/Patient/missing-${Math.random().toString(36).slice(2)}`, headers: as(admin) },
  { path: `/fhir/R4/Patient/${patient}`, headers: {} },
];
const result = await autocannon({
  url: base,
  connections,
  amount,
  requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, ...requests[n++ % requests.length] }) }],
});
process.stdout.write(JSON.stringify(result));
