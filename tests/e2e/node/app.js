// A small app using the real @sentry/node; prints the event ids it sent as JSON.
const Sentry = require("@sentry/node");

const [dsn, release] = process.argv.slice(2);

function parseConfig(text) {
  return JSON.parse(text);
}

function loadSettings(path) {
  try {
    return parseConfig("{not json");
  } catch (cause) {
    throw new Error(`could not load settings from ${path}`, { cause });
  }
}

async function main() {
  Sentry.init({ dsn, release, environment: "production", tracesSampleRate: 0 });
  Sentry.setUser({ id: "7", username: "bob" });
  Sentry.setTag("region", "eu-west");
  const ids = {};
  try {
    loadSettings("/etc/app.json");
  } catch (err) {
    Sentry.withScope((scope) => {
      scope.addAttachment({ filename: "settings.txt", data: "path=/etc/app.json\n", contentType: "text/plain" });
      ids.exception = Sentry.captureException(err);
    });
  }
  ids.message = Sentry.captureMessage("Queue backlog above 1000 items", "warning");
  ids.feedback = Sentry.captureFeedback({
    message: "The settings page crashed",
    name: "Bob",
    email: "bob@example.com",
    associatedEventId: ids.exception,
  });
  await Sentry.flush(10000);
  process.stdout.write(JSON.stringify(ids) + "\n");
}

main();
