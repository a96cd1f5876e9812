import { Transform, Type } from 'class-transformer';
import { IsIn, IsInt, IsISO8601, IsOptional, Matches, Max, Min } from 'class-validator';
import { CALL_OUTCOMES, URGENCIES, type CallOutcome, type Urgency } from './call-outcome';
import { CALL_LIST_ORDERS, CALL_STATUSES, type CallListOrder, type CallStatus } from './call-record';

/** Query of GET /api/calls. */
export class ListCallsQuery {
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(100_000)
  page = 1;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(100)
  pageSize = 20;

  /** The caller's or the called number, E.164. A '+' sent unencoded arrives as a space. */
  @IsOptional()
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim().replace(/^(?=\d)/, '+') : value))
  @Matches(/^\+[1-9]\d{3,14}$/, { message: 'number must be a phone number in E.164 form, such as +15551234567' })
  number?: string;

  /** Calls started at or after this instant. */
  @IsOptional() @IsISO8601({ strict: true })
  from?: string;

  /** Calls started before this instant. */
  @IsOptional() @IsISO8601({ strict: true })
  to?: string;

  @IsOptional() @IsIn(CALL_STATUSES)
  status?: CallStatus;

  /** What the call came to: job_request, transferred, no_job_request, failed, fallback. */
  @IsOptional() @IsIn(CALL_OUTCOMES)
  outcome?: CallOutcome;

  /** The urgency of the call's job request. */
  @IsOptional() @IsIn(URGENCIES)
  urgency?: Urgency;

  /** newest (the default), or emergency_first: emergencies first, then newest. */
  @IsOptional() @IsIn(CALL_LIST_ORDERS)
  order?: CallListOrder;
}
