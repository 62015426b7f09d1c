// Evaluates flags through the OpenFeature JS server SDK and the published OFREP
// provider, the way an application does, and prints each result's details
// (one JSON line). argv: baseUrl env token flagKey... ; an error hook also
// reads the body of a refused request, as an application can.
import { OpenFeature } from '@openfeature/server-sdk';
import { OFREPProvider } from '@openfeature/ofrep-provider';

const [baseUrl, env, token, ...keys] = process.argv.slice(2);
const headers = { 'X-Ooda-Env': env };
if (token) headers.Authorization = `Bearer ${token}`;
await OpenFeature.setProviderAndWait(new OFREPProvider({ baseUrl, headers }));
const seen = {};
const client = OpenFeature.getClient();
client.addHooks({
  async error(hookContext, err) {
    if (err && err.response && typeof err.response.json === 'function') {
      try {
        seen[hookContext.flagKey] = await err.response.json();
      } catch (e) {
        seen[hookContext.flagKey] = { unreadable: String(e) };
      }
    }
  },
});
const out = {};
for (const key of keys) {
  const d = await client.getBooleanDetails(key, true, { targetingKey: 'u1' });
  out[key] = { value: d.value, reason: d.reason, errorCode: d.errorCode ?? null,
    errorMessage: d.errorMessage ?? null, variant: d.variant ?? null, body: seen[key] ?? null };
}
console.log(JSON.stringify(out));
await OpenFeature.close();
