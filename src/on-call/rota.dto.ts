import { plainToInstance, Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsOptional,
  IsString,
  IsTimeZone,
  Matches,
  MaxLength,
  MinLength,
  ValidateNested,
  validateSync,
  type ValidationError,
} from 'class-validator';
import { randomBytes } from 'node:crypto';
import { instantAt, parseLocalTime } from '../calling-rules/local-time';
import { intervalsOf, parseWeekTime, WEEKDAYS, type Rota, type RotaOverride, type RotaWindow, type Weekday } from './rota';

/**
 * The rota as written: the body of PUT /api/on-call and POST /api/on-call/overrides, and what
 * ON_CALL_ROTA / ON_CALL_ROTA_FILE hold. Checked in two passes: the shape by class-validator, then
 * what the shape cannot say (ids unique, every id named exists, times that read, overrides that
 * end after they start) by checkRota, which also turns override times into instants.
 */

export const E164 = /^\+[1-9]\d{6,14}$/;
/** Person and override ids: short slugs, safe in logs and URLs. */
export const ROTA_ID = /^[a-z0-9][a-z0-9_-]{0,39}$/;
const ID_MESSAGE = 'must be 1-40 lower-case letters, digits, _ or -, starting with a letter or digit';
/** An ISO 8601 date and time; without an offset it is read in the rota's zone. */
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?$/;

const lowerCase = ({ value }: { value: unknown }): unknown =>
  Array.isArray(value) ? (value as unknown[]).map((v) => (typeof v === 'string' ? v.trim().toLowerCase() : v)) : value;

export class PersonBody {
  @IsString() @Matches(ROTA_ID, { message: `id ${ID_MESSAGE}` })
  id!: string;

  @IsString() @MinLength(1) @MaxLength(80)
  name!: string;

  @IsString() @Matches(E164, { message: 'mobile must be a phone number in E.164 form, such as +15551234567' })
  mobile!: string;
}

export class WindowBody {
  /** With days: start and end are HH:MM. Without: "ddd HH:MM". */
  @IsOptional() @Transform(lowerCase) @IsArray() @ArrayMinSize(1) @ArrayMaxSize(7)
  @IsIn(WEEKDAYS, { each: true, message: `days must name weekdays: ${WEEKDAYS.join(', ')}` })
  days?: Weekday[];

  @IsString() @MaxLength(20)
  start!: string;

  @IsString() @MaxLength(20)
  end!: string;

  /** Person ids in escalation order. */
  @IsArray() @ArrayMinSize(1) @ArrayMaxSize(20) @IsString({ each: true })
  people!: string[];
}

export class OverrideBody {
  /** Made up when not given. */
  @IsOptional() @IsString() @Matches(ROTA_ID, { message: `id ${ID_MESSAGE}` })
  id?: string;

  /** ISO 8601; without an offset, a wall time in the rota's zone ("2026-12-24T17:00"). */
  @IsString() @MaxLength(40)
  start!: string;

  @IsString() @MaxLength(40)
  end!: string;

  @IsArray() @ArrayMinSize(1) @ArrayMaxSize(20) @IsString({ each: true })
  people!: string[];

  @IsOptional() @IsString() @MaxLength(200)
  note?: string;
}

export class RotaBody {
  /** The zone windows are read in; DEFAULT_TIMEZONE when left out. */
  @IsOptional() @IsTimeZone({ message: 'timezone must be an IANA time zone such as America/New_York' })
  timezone?: string;

  @IsArray() @ArrayMaxSize(100) @ValidateNested({ each: true }) @Type(() => PersonBody)
  people!: PersonBody[];

  @IsArray() @ArrayMaxSize(200) @ValidateNested({ each: true }) @Type(() => WindowBody)
  windows!: WindowBody[];

  @IsOptional() @IsArray() @ArrayMaxSize(500) @ValidateNested({ each: true }) @Type(() => OverrideBody)
  overrides?: OverrideBody[];
}

export const newOverrideId = (): string => `ovr-${randomBytes(6).toString('hex')}`;

/** A date-time as an instant: with an offset as written, without one as the rota zone's wall clock shows it. */
export function readDateTime(text: string, timeZone: string): number | null {
  const m = DATE_TIME.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s, zone] = m;
  const fields = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0)] as const;
  const wall = Date.UTC(...fields);
  const check = new Date(wall);
  // Date.UTC rolls 31 February over into March: a date that does not exist is refused.
  if (check.getUTCMonth() !== fields[1] || check.getUTCDate() !== fields[2] || check.getUTCHours() !== fields[3] || check.getUTCMinutes() !== fields[4] || check.getUTCSeconds() !== fields[5]) return null;
  if (zone) {
    const ms = Date.parse(text.trim());
    return Number.isNaN(ms) ? null : ms;
  }
  return instantAt(timeZone, wall);
}

/** An override as stored: times as UTC instants, people checked against `known` when given. */
export function checkOverride(body: OverrideBody, timeZone: string, known: ReadonlySet<string> | null, at = 'override'): { override?: RotaOverride; problems: string[] } {
  const problems: string[] = [];
  const start = readDateTime(body.start, timeZone);
  const end = readDateTime(body.end, timeZone);
  if (start === null) problems.push(`${at}.start: "${body.start}" is not an ISO 8601 date and time such as 2026-12-24T17:00 or 2026-12-24T22:00Z`);
  if (end === null) problems.push(`${at}.end: "${body.end}" is not an ISO 8601 date and time such as 2026-12-26T08:00`);
  if (start !== null && end !== null && end <= start) problems.push(`${at}: end must be after start`);
  problems.push(...unknownPeople(body.people, known, at));
  if (problems.length > 0) return { problems };
  return {
    override: { id: body.id ?? newOverrideId(), start: new Date(start!).toISOString(), end: new Date(end!).toISOString(), people: body.people, note: body.note ?? null },
    problems,
  };
}

function unknownPeople(ids: readonly string[], known: ReadonlySet<string> | null, at: string): string[] {
  if (!known) return [];
  return ids.filter((id) => !known.has(id)).map((id) => `${at}.people: no person has the id "${id}"`);
}

function checkWindow(body: WindowBody, known: ReadonlySet<string>, at: string): { window?: RotaWindow; problems: string[] } {
  const problems: string[] = [];
  const read = (value: string, what: 'start' | 'end') => {
    try {
      if (body.days) parseLocalTime(value);
      else parseWeekTime(value);
    } catch {
      problems.push(`${at}.${what}: "${value}" must be ${body.days ? 'a time of day HH:MM (with days)' : 'a weekday and time such as "fri 17:00" (without days)'}`);
    }
  };
  read(body.start, 'start');
  read(body.end, 'end');
  problems.push(...unknownPeople(body.people, known, at));
  if (problems.length > 0) return { problems };
  const window: RotaWindow = {
    days: body.days ? WEEKDAYS.filter((d) => body.days!.includes(d)) : null,
    start: body.days ? body.start : normaliseWeekTime(body.start),
    end: body.days ? body.end : normaliseWeekTime(body.end),
    people: body.people,
  };
  intervalsOf(window); // reads, as checked above
  return { window, problems };
}

function normaliseWeekTime(text: string): string {
  const [day, minute] = parseWeekTime(text);
  return `${WEEKDAYS[day]} ${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
}

/** The rota a validated body describes, or what is wrong with it (each problem names where). */
export function checkRota(body: RotaBody, defaultTimeZone: string): { rota?: Rota; problems: string[] } {
  const timezone = body.timezone ?? defaultTimeZone;
  const problems: string[] = [];
  const known = new Set<string>();
  body.people.forEach((p, i) => {
    if (known.has(p.id)) problems.push(`people[${i}].id: "${p.id}" is used twice`);
    known.add(p.id);
  });
  const windows: RotaWindow[] = [];
  body.windows.forEach((w, i) => {
    const checked = checkWindow(w, known, `windows[${i}]`);
    problems.push(...checked.problems);
    if (checked.window) windows.push(checked.window);
  });
  const overrides: RotaOverride[] = [];
  const overrideIds = new Set<string>();
  (body.overrides ?? []).forEach((o, i) => {
    const checked = checkOverride(o, timezone, known, `overrides[${i}]`);
    problems.push(...checked.problems);
    if (!checked.override) return;
    if (overrideIds.has(checked.override.id)) problems.push(`overrides[${i}].id: "${checked.override.id}" is used twice`);
    overrideIds.add(checked.override.id);
    overrides.push(checked.override);
  });
  if (problems.length > 0) return { problems };
  return { rota: { timezone, people: body.people.map(({ id, name, mobile }) => ({ id, name: name.trim(), mobile })), windows, overrides }, problems };
}

/** class-validator's nested errors as "people[1].mobile: …" lines. */
export function describeValidationErrors(errors: readonly ValidationError[], path = ''): string[] {
  return errors.flatMap((e) => {
    const here = /^\d+$/.test(e.property) ? `${path}[${e.property}]` : path ? `${path}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((m) => `${here}: ${m}`);
    return [...own, ...describeValidationErrors(e.children ?? [], here)];
  });
}

/**
 * A rota written as JSON text (ON_CALL_ROTA, or ON_CALL_ROTA_FILE's content). Throws an Error
 * naming `source` and every problem, the way a bad setting stops boot.
 */
export function parseRotaJson(text: string, source: string, defaultTimeZone: string): Rota {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`Invalid configuration:\n  ${source}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`Invalid configuration:\n  ${source}: must be a JSON object {timezone?, people, windows, overrides?}`);
  }
  const body = plainToInstance(RotaBody, value);
  const shape = describeValidationErrors(validateSync(body, { whitelist: true, forbidNonWhitelisted: true }));
  const checked = shape.length > 0 ? { problems: shape } : checkRota(body, defaultTimeZone);
  if (!checked.rota) throw new Error(`Invalid configuration:\n  ${checked.problems.map((p) => `${source}: ${p}`).join('\n  ')}`);
  return checked.rota;
}
