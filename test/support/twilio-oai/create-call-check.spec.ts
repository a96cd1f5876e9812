import { CREATE_CALL, createCallProblems, valuesFromDescription } from './create-call-check';

const valid: Array<[string, string]> = [
  ['To', '+15551230000'],
  ['From', '+15557650000'],
  ['Url', 'https://op.example.com/twilio/voice?outboundRequest=r1&attempt=1'],
  ['Method', 'POST'],
  ['StatusCallbackEvent', 'initiated'],
  ['StatusCallbackEvent', 'completed'],
  ['MachineDetection', 'DetectMessageEnd'],
  ['AsyncAmd', 'true'],
  ['Timeout', '30'],
];

describe("Twilio's Calls create definition (vendored)", () => {
  it('is the CreateCall operation of the 2010-04-01 API, from a pinned commit', () => {
    expect(CREATE_CALL).toMatchObject({
      path: '/2010-04-01/Accounts/{AccountSid}/Calls.json',
      operationId: 'CreateCall',
      source: { file: 'spec/json/twilio_api_v2010.json', commit: expect.stringMatching(/^[0-9a-f]{40}$/) },
    });
    expect(CREATE_CALL.requestSchema.required).toEqual(['To', 'From']);
  });

  it('reads the values the descriptions list where the definition has no enum', () => {
    const described = (name: string) => {
      const p = CREATE_CALL.requestSchema.properties[name];
      return valuesFromDescription(p.description);
    };
    expect(described('MachineDetection')).toEqual(['Enable', 'DetectMessageEnd']);
    expect(described('AsyncAmd')).toEqual(['true', 'false']);
    expect(described('StatusCallbackEvent')).toEqual(['initiated', 'ringing', 'answered', 'completed']);
    expect(described('RecordingStatusCallbackEvent')).toEqual(['in-progress', 'completed', 'absent']);
    expect(CREATE_CALL.requestSchema.properties.StatusCallbackMethod.enum).toEqual(['GET', 'POST']);
  });

  it('accepts a well-formed request', () => {
    expect(createCallProblems(valid)).toEqual([]);
  });

  it.each<[string, Array<[string, string]>, RegExp]>([
    ['an unknown parameter', [...valid, ['AnsweringMachine', 'true']], /AnsweringMachine is not a parameter of CreateCall/],
    ['a parameter in the wrong case', [...valid.filter(([k]) => k !== 'Timeout'), ['timeout', '30']], /timeout is not a parameter/],
    ['a MachineDetection value not listed', valid.map(([k, v]): [string, string] => [k, k === 'MachineDetection' ? 'DetectMessageEnds' : v]), /MachineDetection must be one of Enable, DetectMessageEnd/],
    ['a status callback event not listed', [...valid, ['StatusCallbackEvent', 'in-progress']], /StatusCallbackEvent\[2\] must be one of initiated, ringing, answered, completed/],
    ['a non-integer Timeout', valid.map(([k, v]): [string, string] => [k, k === 'Timeout' ? '30s' : v]), /Timeout must be integer/],
    ['a method not listed', valid.map(([k, v]): [string, string] => [k, k === 'Method' ? 'PUT' : v]), /Method must be one of GET, POST/],
    ['a relative URL', valid.map(([k, v]): [string, string] => [k, k === 'Url' ? '/twilio/voice' : v]), /Url must match format "uri"/],
    ['no To', valid.filter(([k]) => k !== 'To'), /must have required property 'To'/],
    ['no Url, Twiml or ApplicationSid', valid.filter(([k]) => k !== 'Url'), /one of Url, Twiml or ApplicationSid is required/],
    ['a single-valued parameter twice', [...valid, ['From', '+15550000000']], /From is given more than once/],
  ])('finds %s', (_name, form, problem) => {
    expect(createCallProblems(form).join('\n')).toMatch(problem);
  });
});
