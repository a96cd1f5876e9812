import { Global, Module } from '@nestjs/common';
import { CallProfileResolver, EnvironmentProfileResolver } from './call-profile.resolver';

/** Who answers: the business profile of each call. */
@Global()
@Module({
  providers: [{ provide: CallProfileResolver, useClass: EnvironmentProfileResolver }],
  exports: [CallProfileResolver],
})
export class ProfileModule {}
