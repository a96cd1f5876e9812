import { Transform, Type } from 'class-transformer';
import { IsIn, IsInt, IsISO8601, IsOptional, Matches, Max, Min } from 'class-validator';
import { CALL_STATUSES, type CallStatus } from './call-record';

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
}
