import { Type } from 'class-transformer';
import { IsIn, IsInt, IsISO8601, IsObject, IsOptional, IsString, IsTimeZone, Matches, Max, MaxLength, Min, MinLength, ValidateNested } from 'class-validator';
import { CALL_SID } from '../twilio/twilio-protocol';
import { OUTBOUND_STATUSES, type OutboundStatus } from './outbound-request';

/** A callable number in E.164 form. */
export const E164 = /^\+[1-9]\d{6,14}$/;
const E164_MESSAGE = 'must be a phone number in E.164 form, such as +15551234567';

export class ConsentBody {
  /** Where the callee agreed: "web form", "signed job sheet", "asked on the phone"… */
  @IsString() @MinLength(1) @MaxLength(200)
  source!: string;

  @IsISO8601({ strict: true })
  obtainedAt!: string;
}

/** Body of POST /api/outbound-calls. */
export class CreateOutboundCallBody {
  @Matches(E164, { message: `to ${E164_MESSAGE}` })
  to!: string;

  /** What the agent is calling about, in a sentence it can say. */
  @IsString() @MinLength(3) @MaxLength(500)
  purpose!: string;

  @IsOptional() @ValidateNested() @Type(() => ConsentBody)
  consent?: ConsentBody;

  /** The inbound call being returned. */
  @IsOptional() @Matches(CALL_SID, { message: 'callbackOf must be a Twilio Call SID: CA followed by 32 hex digits' })
  callbackOf?: string;

  @IsOptional() @IsTimeZone({ message: 'timezone must be an IANA time zone such as America/Chicago' })
  timezone?: string;

  @IsOptional() @IsISO8601({ strict: true })
  notBefore?: string;

  @IsOptional() @IsObject()
  metadata?: Record<string, unknown>;
}

/** Query of GET /api/outbound-calls. */
export class ListOutboundCallsQuery {
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(100_000)
  page = 1;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(100)
  pageSize = 20;

  @IsOptional() @IsIn(OUTBOUND_STATUSES)
  status?: OutboundStatus;

  @IsOptional() @Matches(E164, { message: `to ${E164_MESSAGE}` })
  to?: string;
}

/** Body of POST /api/dnc. */
export class AddDoNotCallBody {
  @Matches(E164, { message: `number ${E164_MESSAGE}` })
  number!: string;

  @IsOptional() @IsString() @MaxLength(300)
  reason?: string;
}

/** Query of GET /api/dnc. */
export class ListDoNotCallQuery {
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(100_000)
  page = 1;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(500)
  pageSize = 100;
}
