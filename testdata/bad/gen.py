# gen.py writes the bad-input catalogue (testdata/bad/<area>/<case>/{input,expected}).
# Hand edits are fine; rerun it after changing a case here. The assertions are
# documented in cmd/intercomd/badinput_test.go, which feeds every case through
# its real entry point.
import os, json, random
root=os.path.dirname(os.path.abspath(__file__))
def case(area,name,inp,exp,topic=None):
    d=os.path.join(root,area,name); os.makedirs(d,exist_ok=True)
    if isinstance(inp,str): inp=inp.encode('latin-1') if any(ord(c)>127 and ord(c)<256 for c in inp) else inp.encode()
    open(os.path.join(d,'input'),'wb').write(inp)
    lines=[]
    if topic: lines.append('topic '+topic)
    lines+=exp
    open(os.path.join(d,'expected'),'w').write('\n'.join(lines)+'\n')
GH='"ghost-visit"'
ghost='{"id":"ghost-visit","version":1,"start":"2026-01-01T00:00:00Z","end":"2036-01-01T00:00:00Z","intercoms":["door-01"],"creds":[{"kind":"pin","hash":"'+'ab'*32+'"}]}'
def delta(rev='$REV1',prev='$REV',ups=ghost,extra=''):
    return '{"v":1,"rev":%s,"prev_rev":%s,"sent_at":"$NOW","upserts":[%s]%s}'%(rev,prev,ups,extra)
M='mqtt'
R=['event input.rejected']
case(M,'delta_malformed_json','{"v":1,"rev":',['counter mqtt:keys/delta:malformed','error malformed']+R,'keys/delta')
full=delta()
case(M,'delta_truncated',full[:len(full)//2],['counter mqtt:keys/delta:malformed','error malformed']+R,'keys/delta')
case(M,'delta_wrong_type_rev',delta(rev='"$REV1"'),['counter mqtt:keys/delta:malformed','error rev']+R,'keys/delta')
case(M,'delta_wrong_type_upserts','{"v":1,"rev":$REV1,"prev_rev":$REV,"sent_at":"$NOW","upserts":{"id":"ghost-visit"}}',['counter mqtt:keys/delta:malformed','error upserts']+R,'keys/delta')
case(M,'delta_wrong_type_version','{"v":"1","rev":$REV1,"prev_rev":$REV,"sent_at":"$NOW","upserts":[]}',['counter mqtt:keys/delta:version|mqtt:keys/delta:malformed','error version']+R,'keys/delta')
case(M,'delta_unknown_version','{"v":7,"rev":$REV1,"prev_rev":$REV,"sent_at":"$NOW","upserts":['+ghost+']}',['counter mqtt:keys/delta:version','error v=7']+R,'keys/delta')
case(M,'delta_oversized','{"v":1,"rev":$REV1,"prev_rev":$REV,"sent_at":"$NOW","pad":"$PAD200K","upserts":['+ghost+']}',['counter mqtt:keys/delta:too_large','error too large']+R,'keys/delta')
case(M,'delta_revision_backwards',delta(rev='$REV1',prev='$REV2'),['counter mqtt:keys/delta:invalid','error revision goes backwards']+R,'keys/delta')
case(M,'delta_stale_revision',delta(rev='$REV',prev='$REVM1'),['counter mqtt:stale'],'keys/delta')
case(M,'delta_bad_hash',delta(ups=ghost.replace('abab','zz',1)),['counter mqtt:keys/delta:invalid','error hash']+R,'keys/delta')
case(M,'delta_window_inverted',delta(ups=ghost.replace('"2036-01-01T00:00:00Z"','"2020-01-01T00:00:00Z"')),['counter mqtt:keys/delta:invalid','error end']+R,'keys/delta')
case(M,'delta_unknown_kind',delta(ups=ghost.replace('"kind":"pin"','"kind":"retina"')),['counter mqtt:keys/delta:invalid|mqtt:keys/delta:malformed','error unknown credential kind']+R,'keys/delta')
case(M,'delta_version_zero',delta(ups=ghost.replace('"version":1','"version":0')),['counter mqtt:keys/delta:invalid','error version']+R,'keys/delta')
case(M,'delta_binary_garbage',bytes([0xff,0xfe,0,1,2,0x80,0x7b]),['counter mqtt:keys/delta:malformed','error malformed']+R,'keys/delta')
case(M,'delta_empty','',['counter mqtt:keys/delta:malformed','error malformed']+R,'keys/delta')
case(M,'delta_json_array','[1,2,3]',['counter mqtt:keys/delta:malformed','error malformed']+R,'keys/delta')
case(M,'head_malformed','{"v":1,"rev":"x"}',['counter mqtt:keys/head:malformed','error malformed']+R,'keys/head')
case(M,'head_unknown_version','{"v":3,"rev":1,"sent_at":"$NOW"}',['counter mqtt:keys/head:version','error v=3']+R,'keys/head')
snap='{"v":1,"snapshot_id":"%s","rev":%s,"seq":%s,"total":%s,"sent_at":"$NOW","visits":['+ghost+']}'
case(M,'snapshot_revision_backwards',snap%('bad-old','0','0','1'),['counter mqtt:keys/snapshot:invalid','error revision goes backwards']+R,'keys/snapshot')
case(M,'snapshot_seq_out_of_range',snap%('bad-seq','$REV10','5','2'),['counter mqtt:keys/snapshot:invalid','error seq']+R,'keys/snapshot')
case(M,'snapshot_total_zero',snap%('bad-total','$REV10','0','0'),['counter mqtt:keys/snapshot:invalid','error total']+R,'keys/snapshot')
case(M,'snapshot_malformed','{"v":1,"snapshot_id":7}',['counter mqtt:keys/snapshot:malformed','error malformed']+R,'keys/snapshot')
case(M,'snapshot_unknown_version',(snap%('bad-v','$REV10','0','1')).replace('"v":1','"v":9',1),['counter mqtt:keys/snapshot:version','error v=9']+R,'keys/snapshot')
case(M,'snapshot_oversized',(snap%('bad-big','$REV10','0','1')).replace('"visits"','"pad":"$PAD200K","visits"'),['counter mqtt:keys/snapshot:too_large','error too large']+R,'keys/snapshot')
case(M,'snapshot_chunks_out_of_order_missing',(snap%('half-snap','$REV10','2','3'))+'\n---\n'+(snap%('half-snap','$REV10','1','3')),['counter mqtt:snapshot_timeouts','error stalled','event sync.error'],'keys/snapshot')
cmdv='{"v":1,"type":"%s","request_id":"$RID","issued_at":"%s","expires_at":"%s"%s}'
case(M,'cmd_malformed','{"v":1,"type":',['counter mqtt:cmd:malformed','error malformed']+R,'cmd')
case(M,'cmd_unknown_version','{"v":2,"type":"open_sesame","request_id":"$RID"}',['counter mqtt:cmd:version','error v=2']+R,'cmd')
case(M,'cmd_unknown_type',cmdv%('open_sesame','$NOW','$SOON',''),['counter mqtt:cmd:invalid','error type','event command.result'],'cmd')
case(M,'cmd_expires_before_issued',cmdv%('resync','$NOW','$NOW',''),['counter mqtt:cmd:invalid','error issued_at must be before expires_at','event command.result'],'cmd')
case(M,'cmd_expiry_too_far',cmdv%('resync','$NOW','$NOW1H',''),['counter mqtt:cmd:invalid','error lives longer than','event command.result'],'cmd')
case(M,'cmd_wrong_type_on',cmdv%('lockdown','$NOW','$SOON',',"on":"yes"'),['counter mqtt:cmd:malformed','error on']+R,'cmd')
case(M,'cmd_oversized',cmdv%('remote_unlock','$NOW','$SOON',',"operator":"$PAD200K"'),['counter mqtt:cmd:too_large','error too large','relay locked']+R,'cmd')
case(M,'cmd_bad_request_id',(cmdv%('resync','$NOW','$SOON','')).replace('$RID','bad id with spaces!'),['counter mqtt:cmd:invalid','error request_id']+R,'cmd')
# sent through the cloud stand-in, answered with a result
case(M,'cmd_expired_web_unlock',cmdv%('web_unlock','$PAST5M','$PAST4M',',"visit_id":"$VISIT","token":"$WEBTOKEN"'),['send command','result refused expired','counter mqtt:commands_refused','event command.result','relay locked'],'cmd')
case(M,'cmd_expired_remote_unlock',cmdv%('remote_unlock','$PAST5M','$PAST4M',',"operator":"chaos"'),['send command','result refused expired','counter mqtt:commands_refused','event command.result','relay locked'],'cmd')
case(M,'cmd_replayed',cmdv%('lockdown','$NOW','$SOON',',"on":false'),['send command twice','result refused replayed','counter mqtt:commands_refused','event command.result'],'cmd')
#case(M,'cmd_before_replay_horizon',cmdv%('remote_unlock','$PAST5M','$SOON',',"operator":"replay"'),['send command after fresh','result refused replayed','counter mqtt:commands_refused','event command.result','relay locked'],'cmd')
case(M,'cmd_config_out_of_range',cmdv%('config','$NOW','$SOON',',"config":{"unlock_seconds":600}'),['counter mqtt:cmd:invalid','error unlock_seconds','event command.result'],'cmd')
case(M,'lpr_stale','{"v":1,"camera":"lpr0","plate":"AB123","confidence":0.9,"at":"2020-01-01T00:00:00Z"}',['counter mqtt:lpr:stale','error old']+R,'lpr')
case(M,'lpr_low_confidence','{"v":1,"camera":"lpr0","plate":"AB123","confidence":0.1,"at":"$NOW"}',['counter mqtt:lpr:low_confidence'],'lpr')
case(M,'lpr_wrong_type','{"v":1,"camera":"lpr0","plate":12345,"confidence":0.9,"at":"$NOW"}',['counter mqtt:lpr:malformed','error plate']+R,'lpr')
case(M,'face_not_json','\xff\xfe',['counter mqtt:face:malformed','error malformed']+R,'face')
case(M,'face_no_subject','{"v":1,"camera":"face0","subject":"","score":0.9,"at":"$NOW"}',['counter mqtt:face:invalid','error subject']+R,'face')

# serial: raw bytes on the keypad line
def crc16(b):
    c=0xffff
    for x in b:
        c^=x<<8
        for _ in range(8):
            c=((c<<1)^0x1021)&0xffff if c&0x8000 else (c<<1)&0xffff
    return c
def frame(seq,typ,payload,badcrc=False,ln=None):
    body=bytes([len(payload) if ln is None else ln,seq,typ])+bytes(payload)
    c=crc16(body)
    if badcrc: c^=0x5a5a
    return bytes([2])+body+bytes([c>>8,c&0xff])
S='serial'
rnd=random.Random(7)
case(S,'random_garbage',bytes(rnd.randrange(256) for _ in range(200)),['counter keypad:garbage'])
case(S,'line_noise_zeros',bytes(64),['counter keypad:garbage'])
case(S,'line_noise_ff',b'\xff'*64,['counter keypad:garbage'])
case(S,'half_frame',frame(9,1,b'5')[:4],['counter keypad:garbage|keypad:bad_crc'])
case(S,'bad_crc_key',frame(9,1,b'5',badcrc=True),['counter keypad:bad_crc'])
case(S,'length_too_big',bytes([2,0xff,9,1])+b'\x00'*8,['counter keypad:bad_length|keypad:garbage'])
case(S,'unknown_type',frame(9,0x55,b'ab'),['counter keypad:unknown_type|keypad:unexpected'])
case(S,'controller_type_from_keypad',frame(9,0x81,b'\x01\x02\x03\x04'),['counter keypad:unexpected|keypad:unknown_type'])
case(S,'key_wrong_payload_length',frame(9,1,b'55'),['counter keypad:malformed'])
case(S,'invalid_key_code',frame(9,1,b'x'),['counter keypad:invalid_keys|keypad:malformed'])
case(S,'garbage_then_half_frames',bytes(rnd.randrange(256) for _ in range(30))+frame(9,1,b'1')[:5]+frame(10,1,b'2')[:3],['counter keypad:garbage|keypad:bad_crc'])

# wiegand transcripts: offset_ns line width_ns
W='wiegand'
def tr(bits,interval=2000000,width=50000,comment=''):
    out='# wiegand transcript v1\n# bad input: %s\n'%comment
    t=0
    for b in bits:
        out+='%d %d %d\n'%(t,b,width); t+=interval
    return out
bits=[1]+[0]*24+[1]  # even parity should be 0 over 12 zeros: wrong
case(W,'h10301_parity_error',tr(bits,comment='26-bit frame with a wrong leading parity bit'),['counter wiegand:parity','error parity','event input.rejected'])
case(W,'bad_length_29',tr([1,0]*14+[1],comment='29 bits: no format has that length'),['counter wiegand:bad_length|wiegand:parity','error 29-bit','event input.rejected'])
case(W,'runt_2_bits',tr([1,0],comment='two bits of line noise'),['counter wiegand:runts'])
case(W,'noise_pulses',tr([1,0,1,0,1,0],width=2000,interval=300000,comment='pulses 2 us wide: below the minimum pulse'),['counter wiegand:noise_pulses'])
case(W,'overflow_300_bits',tr([1,0,0]*100,interval=10000000,comment='300 bits: longer than any format; 10 ms apart (within spec) so a loaded machine cannot split it'),['counter wiegand:overflow','event input.rejected'])
case(W,'key8_bad_complement',tr([0,0,0,1,0,0,0,1],comment='8-bit key burst whose high nibble is not the complement'),['counter wiegand:complement','error complement','event input.rejected'])
case(W,'key4_bad_code',tr([1,1,0,1],comment='4-bit key code 13: no such key'),['counter wiegand:bad_key','event input.rejected'])

Q='qr'
for n,p in [('url','https://example.com/visit/123'),('wrong_prefix','VK2:0123456789abcdef0123456789abcdef'),('empty_token','VK1:'),('token_not_hex','VK1:zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz'),('token_short','VK1:0123456789abcdef'),('token_uppercase','VK1:0123456789ABCDEF0123456789ABCDEF'),('plain_text','hello, intercom'),('whitespace','VK1:0123456789abcdef0123456789abcdef \n')]:
    case(Q,n,p,['counter qr:not_visit_key','error not a visit key'])

C='config'
base='device_id = "door-01"\nsite_key_file = "/etc/intercomd/site.key"\ndatabase = "/tmp/x.db"\n\n[site]\ntime_zone = "Europe/Berlin"\n\n[relay]\npin = "GPIO17"\nunlock_time = "7s"\n'
for n,doc,err in [
 ('unknown_key',base+'colour = "red"\n','unknown key'),
 ('unlock_too_long',base.replace('"7s"','"90s"'),'relay.unlock_time'),
 ('unlock_not_duration',base.replace('"7s"','"soon"'),'invalid duration'),
 ('wrong_type',base.replace('"7s"','7'),'relay.unlock_time'),
 ('bad_zone',base.replace('Europe/Berlin','Mars/Olympus'),'time zone'),
 ('missing_device_id','site_key_file = "k"\n','device_id'),
 ('syntax_error','device_id = "d\n','config:'),
 ('metrics_not_loopback',base+'[metrics]\nlisten = "0.0.0.0:9101"\n','loopback'),
 ('bad_baud',base+'[keypad]\nbaud = 1234\n','keypad.baud'),
 ('binary_garbage','\x00\x01\x02\xff\xfe\x7f','config'),
 ('oversized','$PAD2M','larger than'),
]:
    case(C,n,doc,['error '+err])

K='socket'
case(K,'wrong_uid','GET /v1/status HTTP/1.1\r\nHost: intercomd\r\n\r\n',['as nobody','status 403','counter socket:denied'])
case(K,'huge_body','POST /v1/explain HTTP/1.1\r\nHost: intercomd\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n$BODY1M',['status 413','counter socket:too_large'])
case(K,'malformed_json','POST /v1/explain HTTP/1.1\r\nHost: intercomd\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{"kind":1',['status 400','counter socket:bad_requests'])
case(K,'bad_count','GET /v1/events?n=-5 HTTP/1.1\r\nHost: intercomd\r\n\r\n',['status 400','counter socket:bad_requests'])
case(K,'sim_pin_letters','POST /v1/sim HTTP/1.1\r\nHost: intercomd\r\nContent-Type: application/json\r\nContent-Length: 29\r\n\r\n{"kind":"pin","pin":"12a4##"}',['status 400','counter socket:bad_requests','error digits'])
case(K,'slowloris','GET /v1/status HTTP/1.1\r\nHost: intercomd\r\nX-Slow: ',['slowloris','closed'])
case(K,'huge_header','GET /v1/status HTTP/1.1\r\nHost: intercomd\r\nX-Big: $HDR2M\r\n\r\n',['status 431'])
