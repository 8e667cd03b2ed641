// The seed's FastMCP log archiver, ported to wasm-mcp's TypeScript SDK.
import { z } from 'zod';
import {
  ResourceNotFound,
  Sample,
  ToolError,
  append,
  elicit,
  embeddedResource,
  log,
  progress,
  prompt,
  resource,
  resourceLink,
  result,
  sample,
  text,
  tool,
} from '@wasm-mcp/sdk';

tool(
  'process_log_entry',
  {
    description: "Analyzes a log entry using the Client's LLM and saves the report to a file.",
    inputSchema: { log_line: z.string() },
  },
  ({ log_line }) => {
    const prompt = `You are a Site Reliability Engineer. Explain this log error in one concise sentence: ${log_line}`;
    const llmExplanation = sample(prompt, { maxTokens: 100 });

    const reportFile = 'incident_report.txt';
    append(reportFile, `--- INCIDENT REPORT ---\nRAW: ${log_line}\nANALYSIS: ${llmExplanation}\n${'-'.repeat(30)}\n`);
    return `Success: Log analyzed and appended to '${reportFile}'.`;
  },
);

// Beyond the seed: structured output, the Sample builder, progress and logs.
const Severity = z.enum(['low', 'medium', 'high']);

tool(
  'classify_log_entry',
  {
    description: 'Rates how severe a log entry is, with the reason, using the client\'s LLM.',
    inputSchema: { log_line: z.string().min(1).describe('The raw log line to rate.') },
    outputSchema: {
      severity: Severity.describe('How urgent the entry is.'),
      reason: z.string(),
    },
    annotations: { readOnly: true, openWorld: false },
  },
  ({ log_line }) => {
    progress(0, 1, 'asking the model');
    const answer = new Sample(`Rate this log entry as low, medium or high, then give the reason on the next line: ${log_line}`)
      .system('You are a Site Reliability Engineer. Answer in two lines.')
      .maxTokens(80)
      .send();
    const [first = '', ...rest] = answer.text.split('\n');
    const rating = Severity.safeParse(first.trim().toLowerCase());
    if (!rating.success) {
      throw new ToolError(`the model did not rate the entry (it said ${JSON.stringify(first)})`);
    }
    const severity = rating.data;
    progress(1, 1, 'rated');
    log.info(`rated ${severity}: ${log_line}`);
    return { severity, reason: rest.join(' ').trim() };
  },
);

// Beyond the seed: asking the user, and rich content.
tool(
  'assign_incident',
  {
    description: 'Asks the user which team owns an incident and files it in incidents.txt.',
    inputSchema: { summary: z.string().describe('One line that says what happened.') },
  },
  ({ summary }) => {
    const answer = elicit(`Who owns "${summary}"?`, {
      team: z.enum(['storage', 'network', 'database']).describe('The owning team.'),
      page: z.boolean().default(false).describe('Page the team now.'),
    });
    if (answer.action !== 'accept') {
      return result({ content: [`Not filed: the user chose to ${answer.action}.`], isError: true });
    }
    const { team, page } = answer.content;
    append('incidents.txt', `${team}${page ? ' (paged)' : ''}: ${summary}\n`);
    return [
      text(`Filed for ${team}.`),
      resourceLink({ uri: 'file:///incidents.txt', name: 'incidents.txt', mimeType: 'text/plain' }),
      embeddedResource({ uri: 'incident://latest', text: summary, mimeType: 'text/plain' }, { audience: ['user'] }),
    ];
  },
);

// Beyond the seed: a prompt template, and resources the client may read.
prompt(
  'triage',
  {
    title: 'Triage a log entry',
    description: 'Starts a conversation that triages one log entry.',
    argsSchema: {
      log_line: z.string().min(1).describe('The raw log line.'),
      audience: z.enum(['engineer', 'manager']).default('engineer').describe('Who reads the answer.'),
      lines: z.coerce.number().int().min(1).max(5).default(1).describe('How many lines to answer in.'),
    },
  },
  ({ log_line, audience, lines }) => [
    { role: 'user', content: `Explain this log entry to an ${audience} in ${lines} line(s): ${log_line}` },
    { role: 'assistant', content: text('Which service wrote it?', { audience: ['user'] }) },
  ],
);

const RUNBOOKS: Record<string, string[]> = {
  disk: ['Find the largest files.', 'Rotate the logs.', 'Grow the volume.'],
  network: ['Check the link.', 'Check DNS.'],
};

resource(
  'runbooks',
  'runbook://index',
  { description: 'The runbooks this plugin knows, with their step counts.', mimeType: 'application/json' },
  () => Object.fromEntries(Object.entries(RUNBOOKS).map(([name, steps]) => [name, steps.length])),
);

resource(
  'runbook_step',
  'runbook://{name}/steps/{step}',
  {
    description: 'One step of a runbook (steps count from 1).',
    mimeType: 'text/plain',
    complete: { name: Object.keys(RUNBOOKS) },
  },
  (_uri, { name, step }) => {
    const steps = RUNBOOKS[name];
    const index = Number(step);
    if (!steps || !Number.isInteger(index) || index < 1 || index > steps.length) {
      throw new ResourceNotFound(`no step ${step} in runbook ${name}`);
    }
    return steps[index - 1];
  },
);
