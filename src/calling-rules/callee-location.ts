import { Injectable } from '@nestjs/common';
import { parsePhoneNumberFromString, type NumberType } from 'libphonenumber-js/max';
import { geocoder, timezones } from 'libphonenumber-geo-carrier';
import { isValidTimeZone } from './local-time';

/**
 * Where a callee is, as far as the number tells: resolved once per outbound request (the lookups
 * read data files) and kept on it, so that the window decisions taken from it stay pure.
 */
export interface CalleeLocation {
  /** IANA zones the number's prefix may be in; several when an area code spans zones; empty: unknown. */
  readonly timeZones: readonly string[];
  /** The number's country or territory (ISO 3166-1, as libphonenumber names it: "US", "CA", "PR"); null: unknown. */
  readonly country: string | null;
  /** ISO 3166-2 subdivisions ("US-FL", "CA-ON") the prefix may be in; several for a shared one; empty: unknown. */
  readonly regions: readonly string[];
}

export const UNKNOWN_LOCATION: CalleeLocation = { timeZones: [], country: null, regions: [] };

/** Resolves a callee's location from their number. A port so that tests can place callees anywhere. */
export abstract class CalleeLocator {
  abstract locate(e164: string): Promise<CalleeLocation>;
}

/** Number types that say nothing about where the callee is (the data maps them to a whole country's zones). */
const NON_GEOGRAPHIC: ReadonlySet<NumberType> = new Set<NumberType>(['TOLL_FREE', 'PREMIUM_RATE', 'SHARED_COST', 'VOIP', 'PERSONAL_NUMBER', 'PAGER', 'UAN', 'VOICEMAIL']);

/**
 * The location from Google libphonenumber's prefix data (time zones and geocoder, through
 * libphonenumber-geo-carrier). Invalid and non-geographic numbers (toll-free, personal, VoIP...)
 * are UNKNOWN_LOCATION: the calling window then falls back to DEFAULT_TIMEZONE.
 */
@Injectable()
export class LibphonenumberCalleeLocator extends CalleeLocator {
  async locate(e164: string): Promise<CalleeLocation> {
    const parsed = parsePhoneNumberFromString(e164);
    if (!parsed?.isValid()) return UNKNOWN_LOCATION;
    const type = parsed.getType();
    if (type && NON_GEOGRAPHIC.has(type)) return { ...UNKNOWN_LOCATION, country: parsed.country ?? null };
    const [zones, place] = await Promise.all([timezones(parsed), geocoder(parsed, 'en')]);
    const country = parsed.country ?? null;
    return {
      timeZones: (zones ?? []).filter((z) => z !== 'Etc/Unknown' && isValidTimeZone(z)),
      country,
      regions: regionsOf(country, place),
    };
  }
}

const US_STATES: Readonly<Record<string, string>> = {
  Alabama: 'AL', Alaska: 'AK', Arizona: 'AZ', Arkansas: 'AR', California: 'CA', Colorado: 'CO', Connecticut: 'CT',
  Delaware: 'DE', Florida: 'FL', Georgia: 'GA', Hawaii: 'HI', Idaho: 'ID', Illinois: 'IL', Indiana: 'IN', Iowa: 'IA',
  Kansas: 'KS', Kentucky: 'KY', Louisiana: 'LA', Maine: 'ME', Maryland: 'MD', Massachusetts: 'MA', Michigan: 'MI',
  Minnesota: 'MN', Mississippi: 'MS', Missouri: 'MO', Montana: 'MT', Nebraska: 'NE', Nevada: 'NV', 'New Hampshire': 'NH',
  'New Jersey': 'NJ', 'New Mexico': 'NM', 'New York': 'NY', 'North Carolina': 'NC', 'North Dakota': 'ND', Ohio: 'OH',
  Oklahoma: 'OK', Oregon: 'OR', Pennsylvania: 'PA', 'Rhode Island': 'RI', 'South Carolina': 'SC', 'South Dakota': 'SD',
  Tennessee: 'TN', Texas: 'TX', Utah: 'UT', Vermont: 'VT', Virginia: 'VA', Washington: 'WA', 'West Virginia': 'WV',
  Wisconsin: 'WI', Wyoming: 'WY', 'District of Columbia': 'DC',
  // Territories (ISO 3166-2:US lists them too).
  'Puerto Rico': 'PR', Guam: 'GU', 'U.S. Virgin Islands': 'VI', 'American Samoa': 'AS', 'Northern Mariana Islands': 'MP',
  // As the geocoder data spells them.
  'Washington State': 'WA', 'Washington D.C.': 'DC',
};

const CA_PROVINCES: Readonly<Record<string, string>> = {
  Alberta: 'AB', 'British Columbia': 'BC', Manitoba: 'MB', 'New Brunswick': 'NB', 'Newfoundland and Labrador': 'NL',
  'Nova Scotia': 'NS', Ontario: 'ON', 'Prince Edward Island': 'PE', Quebec: 'QC', Saskatchewan: 'SK',
  'Northwest Territories': 'NT', Nunavut: 'NU', Yukon: 'YT',
  // As the geocoder data spells them.
  'British Colombia': 'BC',
};

/** libphonenumber's regions for US territories: each is a subdivision of the US as well. */
const US_TERRITORIES: ReadonlySet<string> = new Set(['PR', 'GU', 'VI', 'AS', 'MP']);

/**
 * ISO 3166-2 subdivisions named by a geocoder description of a North American number: a state or
 * province ("New Jersey", "Washington State"), a place and its postal code ("Jersey City, NJ"), or
 * several provinces sharing a prefix ("Nova Scotia/Prince Edward Island"). Empty when it names none.
 */
export function regionsOf(country: string | null, place: string | null): string[] {
  if (country && US_TERRITORIES.has(country)) return [`US-${country}`];
  if (country !== 'US' && country !== 'CA') return [];
  const table = country === 'US' ? US_STATES : CA_PROVINCES;
  const codes = new Set(Object.values(table));
  const found = new Set<string>();
  for (const part of (place ?? '').split('/').map((p) => p.trim())) {
    const postal = /,\s*([A-Z]{2})$/.exec(part)?.[1];
    const code = postal && codes.has(postal) ? postal : table[part];
    if (code) found.add(`${country}-${code}`);
  }
  return [...found];
}
