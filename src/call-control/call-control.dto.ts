import { IsIn, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';

/** Body of POST /api/calls/:callSid/transfer. */
export class TransferBody {
  /** Where to: E.164. Without it, the line's transfer number. */
  @IsOptional()
  @Matches(/^\+[1-9]\d{3,14}$/, { message: 'to must be a phone number in E.164 form, such as +15551234567' })
  to?: string;
}

/** Body of POST /api/calls/:callSid/say. */
export class SayBody {
  @IsString() @MinLength(1) @MaxLength(500)
  text!: string;

  /** sentence: said as written (the default); instruction: what the agent is told to do. */
  @IsOptional() @IsIn(['sentence', 'instruction'])
  mode: 'sentence' | 'instruction' = 'sentence';
}
