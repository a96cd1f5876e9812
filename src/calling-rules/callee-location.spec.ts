import { LibphonenumberCalleeLocator, regionsOf, UNKNOWN_LOCATION } from './callee-location';

describe('LibphonenumberCalleeLocator (Google libphonenumber prefix data)', () => {
  const locator = new LibphonenumberCalleeLocator();

  it.each([
    ['+12125551234', { timeZones: ['America/New_York'], country: 'US', regions: ['US-NY'] }],
    ['+13055550123', { timeZones: ['America/New_York'], country: 'US', regions: ['US-FL'] }],
    ['+14055550123', { timeZones: ['America/Chicago'], country: 'US', regions: ['US-OK'] }],
    ['+14105550123', { timeZones: ['America/New_York'], country: 'US', regions: ['US-MD'] }],
    ['+12065550123', { timeZones: ['America/Los_Angeles'], country: 'US', regions: ['US-WA'] }], // "Washington State"
    ['+12025550123', { timeZones: ['America/New_York'], country: 'US', regions: ['US-DC'] }], // "Washington D.C."
    ['+15125550123', { timeZones: ['America/Chicago'], country: 'US', regions: ['US-TX'] }],
    ['+19155550123', { timeZones: ['America/Denver'], country: 'US', regions: ['US-TX'] }], // El Paso: Texas on Mountain time
    ['+12125550000', { timeZones: ['America/New_York'], country: 'US', regions: ['US-NY'] }], // "New York, NY"
    ['+14165550123', { timeZones: ['America/Toronto'], country: 'CA', regions: ['CA-ON'] }],
    ['+17875550123', { timeZones: ['America/Puerto_Rico'], country: 'PR', regions: ['US-PR'] }],
    ['+442071234567', { timeZones: ['Europe/London'], country: 'GB', regions: [] }],
  ])('places %s', async (number, expected) => {
    expect(await locator.locate(number)).toEqual(expected);
  });

  it('gives every zone of a prefix that spans several (the window must hold in all of them)', async () => {
    expect(await locator.locate('+19075550123')).toEqual({ timeZones: ['America/Adak', 'America/Anchorage'], country: 'US', regions: ['US-AK'] });
    expect((await locator.locate('+12085550123')).timeZones).toEqual(['America/Boise', 'America/Los_Angeles']);
  });

  it('gives every province of a prefix shared by several', async () => {
    expect((await locator.locate('+19025550123')).regions).toEqual(['CA-NS', 'CA-PE']);
  });

  it('knows nothing of where a toll-free or personal number is, only its country', async () => {
    expect(await locator.locate('+18005550123')).toEqual({ timeZones: [], country: 'US', regions: [] });
    expect(await locator.locate('+15002345678')).toEqual({ timeZones: [], country: 'US', regions: [] });
  });

  it.each(['not a number', '', '+1555', '+99912345678'])('knows nothing of an invalid number %j', async (number) => {
    expect(await locator.locate(number)).toEqual(UNKNOWN_LOCATION);
  });
});

describe('regionsOf (geocoder descriptions of North American numbers)', () => {
  it.each([
    ['US', 'New Jersey', ['US-NJ']],
    ['US', 'Jersey City, NJ', ['US-NJ']],
    ['US', 'Washington State', ['US-WA']],
    ['US', 'Washington D.C.', ['US-DC']],
    ['US', 'Washington', ['US-WA']],
    ['CA', 'British Colombia', ['CA-BC']],
    ['CA', 'Nova Scotia/Prince Edward Island', ['CA-NS', 'CA-PE']],
    ['CA', 'Northwest Territories/Nunavut/Yukon', ['CA-NT', 'CA-NU', 'CA-YT']],
    ['CA', 'Ottawa, ON', ['CA-ON']],
    ['GU', null, ['US-GU']],
    ['VI', 'Christiansted, VI', ['US-VI']],
  ])('%s %j is %j', (country, place, expected) => {
    expect(regionsOf(country, place)).toEqual(expected);
  });

  it.each([
    ['US', null],
    ['US', 'Springfield'],
    ['US', 'Toronto, ON'], // a Canadian province code is not a US state
    ['CA', 'Texas'],
    ['BS', 'Grand Bahama'],
    [null, 'Florida'],
  ])('names no subdivision for %s %j', (country, place) => {
    expect(regionsOf(country, place)).toEqual([]);
  });
});
