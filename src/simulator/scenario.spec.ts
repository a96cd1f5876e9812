import { join } from 'node:path';
import { loadScenarios, parseScenario } from './scenario';

describe('scenario files', () => {
  it('reads a YAML scenario with its turns, mock script and expectations', () => {
    const s = parseScenario(
      `name: Burst pipe
caller:
  - say: My pipe burst.
    bargeInAfter: 1.5s
    mock:
      say: Turn off the valve.
      tools: [{ name: save_job_request, arguments: { urgency: emergency } }]
expect:
  jobRequest: { urgency: emergency }
  paged: true
  maxResponseLatency: 2500ms
`,
      'a.yaml',
    );
    expect(s).toMatchObject({ name: 'Burst pipe', file: 'a.yaml', caller: [{ say: 'My pipe burst.', bargeInAfter: '1.5s', mock: { tools: [{ name: 'save_job_request' }] } }], expect: { paged: true } });
  });

  it('reads JSON too', () => {
    expect(parseScenario('{"name":"n","caller":[],"expect":{"jobRequest":null}}', 'b.json')).toMatchObject({ name: 'n', expect: { jobRequest: null } });
  });

  it('names the file and every problem of a scenario that is not valid', () => {
    const bad = `name: x
caller:
  - sya: hello
expect:
  paged: yes please
  maxFirstAudio: soon
  colour: blue
`;
    let message = '';
    try {
      parseScenario(bad, 'bad.yaml');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('bad.yaml: not a valid scenario');
    expect(message).toContain("/caller/0 must have required property 'say'");
    expect(message).toContain('(sya)');
    expect(message).toContain('/expect/paged must be boolean');
    expect(message).toContain('/expect/maxFirstAudio must match pattern');
    expect(message).toContain('(colour)');
    expect(() => parseScenario('name: [unclosed', 'c.yaml')).toThrow(/c\.yaml: not valid YAML/);
    expect(() => parseScenario('name: x\ncaller: []\nexpect: {}\n', 'd.yaml')).toThrow(/must NOT have fewer than 1 properties/);
  });

  it('ships a dozen valid scenarios for the plumbing line', async () => {
    const scenarios = await loadScenarios([join(__dirname, '..', '..', 'scenarios')]);
    expect(scenarios.length).toBeGreaterThanOrEqual(12);
    expect(new Set(scenarios.map((s) => s.name)).size).toBe(scenarios.length);
  });

  it('says when a path holds no scenarios', async () => {
    await expect(loadScenarios([join(__dirname, 'no-such-folder')])).rejects.toThrow(/no such file or folder/);
    await expect(loadScenarios([__dirname])).rejects.toThrow(/no scenario files/);
  });
});
