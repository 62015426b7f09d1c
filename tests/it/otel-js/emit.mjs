// Emits one checkout request's telemetry to ooda through the OpenTelemetry JS
// SDK and its OTLP http/protobuf exporters, the way an instrumented Node
// service would:
//
//   checkout  GET /checkout            (server)
//   checkout    POST payments/charge   (client; traceparent injected)
//   payments      POST /charge         (server; extracted parent; ERROR + exception)
//   payments        authorize card     (internal)
//
// plus logs through the logs SDK (one error log inside the checkout span, so it
// carries the trace and span ids, and a few info logs), a counter
// `orders_total` and a histogram `checkout_duration_seconds`.
//
// Usage: OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:PORT node emit.mjs RUNID
// Prints {"trace_id", "span_id", "run_id", "orders_total"} as JSON on stdout.
// Exits 1 when any export did not succeed (the SDK would only log it).
import {
  context, propagation, trace, metrics as metricsApi, diag, DiagConsoleLogger, DiagLogLevel,
  SpanKind, SpanStatusCode, ROOT_CONTEXT,
} from '@opentelemetry/api';
import { logs as logsApi, SeverityNumber } from '@opentelemetry/api-logs';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { BatchLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { randomUUID } from 'node:crypto';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';

const runId = process.argv[2] || process.env.RUN_ID || `run${Date.now()}`;
if (!process.env.OTEL_EXPORTER_OTLP_ENDPOINT) {
  console.error('emit.mjs: set OTEL_EXPORTER_OTLP_ENDPOINT, e.g. http://127.0.0.1:4318');
  process.exit(2);
}
diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.WARN);

// Every export's result is recorded: a failed export must fail the run.
const failures = [];
let exports = 0;
function checked(name, exporter) {
  return new Proxy(exporter, {
    get(target, prop) {
      if (prop === 'export') {
        return (items, done) => target.export(items, (result) => {
          exports++;
          if (result.code !== 0) failures.push(`${name}: ${result.error?.message ?? 'failed'}`);
          done(result);
        });
      }
      const v = target[prop];
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const env = process.env.DEPLOY_ENV || 'it';

// checkout: the process's own service, set up the usual way with NodeSDK
// (registers the global tracer, logger and meter providers, the
// AsyncLocalStorage context manager and the W3C propagators).
const spanProcessor = new BatchSpanProcessor(checked('traces', new OTLPTraceExporter()));
const logProcessor = new BatchLogRecordProcessor({ exporter: checked('logs', new OTLPLogExporter()) });
const metricReader = new PeriodicExportingMetricReader({
  exporter: checked('metrics', new OTLPMetricExporter()),
  exportIntervalMillis: 60000,
});
const sdk = new NodeSDK({
  resource: resourceFromAttributes({
    [ATTR_SERVICE_NAME]: 'checkout',
    [ATTR_SERVICE_VERSION]: '1.4.2',
    'service.instance.id': randomUUID(),
    'deployment.environment': env,
  }),
  autoDetectResources: false,
  spanProcessors: [spanProcessor],
  logRecordProcessors: [logProcessor],
  metricReaders: [metricReader],
});
sdk.start();

// payments: a second service with its own resource and tracer provider (in a
// real system, another process); the context crosses over in HTTP headers.
const paymentsProcessor = new BatchSpanProcessor(checked('traces(payments)', new OTLPTraceExporter()));
const paymentsProvider = new BasicTracerProvider({
  resource: resourceFromAttributes({
    [ATTR_SERVICE_NAME]: 'payments',
    [ATTR_SERVICE_VERSION]: '0.9.0',
    'deployment.environment': env,
  }),
  spanProcessors: [paymentsProcessor],
});

const tracer = trace.getTracer('checkout-http', '1.0.0');
const paymentsTracer = paymentsProvider.getTracer('payments-http', '1.0.0');
const logger = logsApi.getLogger('checkout-app', '1.0.0');
const meter = metricsApi.getMeter('checkout-app', '1.0.0');
const orders = meter.createCounter('orders_total', { description: 'Orders received' });
const duration = meter.createHistogram('checkout_duration_seconds', {
  description: 'Checkout request duration', unit: 's',
});

// The payments side of the HTTP call: extract, then serve.
async function paymentsCharge(headers, order) {
  const parent = propagation.extract(ROOT_CONTEXT, headers);
  return paymentsTracer.startActiveSpan('POST /charge', {
    kind: SpanKind.SERVER,
    attributes: { 'http.request.method': 'POST', 'http.route': '/charge', 'url.path': '/charge' },
  }, parent, async (span) => {
    try {
      await paymentsTracer.startActiveSpan('authorize card', async (inner) => {
        inner.setAttribute('payment.method', 'card');
        await sleep(8);
        inner.end();
      });
      const err = new Error(`card declined for order ${order}`);
      err.name = 'CardDeclinedError';
      span.recordException(err);
      span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
      span.setAttribute('http.response.status_code', 402);
      return 402;
    } finally {
      span.end();
    }
  });
}

let traceId = '';
let spanId = '';
const started = Date.now();
await tracer.startActiveSpan('GET /checkout', {
  kind: SpanKind.SERVER,
  attributes: { 'http.request.method': 'GET', 'http.route': '/checkout', 'url.path': '/checkout' },
}, async (root) => {
  traceId = root.spanContext().traceId;
  spanId = root.spanContext().spanId;
  logger.emit({
    severityNumber: SeverityNumber.INFO, severityText: 'INFO',
    body: `checkout started for order ${runId}`, attributes: { 'order.id': runId },
  });
  const status = await tracer.startActiveSpan('POST payments/charge', {
    kind: SpanKind.CLIENT,
    attributes: {
      'http.request.method': 'POST', 'server.address': 'payments', 'server.port': 8080,
      'url.full': 'http://payments:8080/charge', 'peer.service': 'payments',
    },
  }, async (client) => {
    const headers = {};
    propagation.inject(context.active(), headers);
    try {
      const code = await paymentsCharge(headers, runId);
      client.setAttribute('http.response.status_code', code);
      return code;
    } finally {
      client.end();
    }
  });
  root.setAttribute('http.response.status_code', status);
  logger.emit({
    severityNumber: SeverityNumber.ERROR, severityText: 'ERROR',
    body: `payment declined for order ${runId}`,
    attributes: { 'order.id': runId, 'http.response.status_code': status },
  });
  logger.emit({
    severityNumber: SeverityNumber.INFO, severityText: 'INFO',
    body: `checkout finished for order ${runId}`, attributes: { 'order.id': runId },
  });
  root.end();
});
// an info log outside any span
logger.emit({ severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: `cart saved for ${runId}` });

const counts = [[1, { payment: 'card', result: 'declined' }], [2, { payment: 'card', result: 'ok' }],
  [3, { payment: 'wallet', result: 'ok' }]];
let total = 0;
for (const [n, attrs] of counts) {
  orders.add(n, attrs);
  total += n;
}
duration.record((Date.now() - started) / 1000, { 'http.route': '/checkout' });
duration.record(0.25, { 'http.route': '/checkout' });

// Export everything, then shut down: nothing is left in a buffer.
await Promise.all([
  spanProcessor.forceFlush(), paymentsProcessor.forceFlush(),
  logProcessor.forceFlush(), metricReader.forceFlush(),
]);
await paymentsProvider.shutdown();
await sdk.shutdown();

if (failures.length || exports === 0) {
  console.error(`emit.mjs: ${failures.length} failed export(s) of ${exports}:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log(JSON.stringify({ trace_id: traceId, span_id: spanId, run_id: runId, orders_total: total, exports }));
