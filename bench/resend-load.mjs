// The load of the $resend-invite case, in its own process like the autocannon CLI runs: each
// request resends a different pending invitation (round robin), since one invitation may be
// resent only 5 times an hour. Input: one JSON argument; output: autocannon's JSON result.
import autocannon from 'autocannon';

const { base, token, ids, seconds, connections } = JSON.parse(process.argv[2]);
let next = 0;
const body = JSON.stringify({ resourceType: 'Parameters', parameter: [] });
const result = await autocannon({
  url: base,
  connections,
  duration: seconds,
  requests: [
    {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' },
      body,
      setupRequest: (request) => ({ ...request, path: `/fhir/R4/ProjectMembership/${ids[next++ % ids.length]}/$resend-invite` }),
    },
  ],
});
process.stdout.write(JSON.stringify(result));
